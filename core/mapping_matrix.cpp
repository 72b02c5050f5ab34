#include "mapping_matrix.hpp"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "adapter_support.hpp"
#include "expbridge/bridge.hpp"

namespace expbridge {
namespace {

constexpr std::string_view kActions[] = {"start", "pause", "stop", "archive", "restore"};

MatrixCell cell_for(const FieldSpec& f) {
  if (!f.skip.empty()) return {false, f.skip};
  if (!f.summary.empty()) return {true, f.summary};
  std::string text = f.operation;
  std::string wire;
  if (auto it = f.wire.find("_"); it != f.wire.end()) {
    wire = it->second;
  } else {
    for (const auto& [part, name] : f.wire) wire += (wire.empty() ? "" : ", ") + name;
  }
  if (!wire.empty()) text += (text.empty() ? "" : " ") + wire;
  return {true, text};
}

MatrixCell action_cell(const FieldSpec& f, std::string_view action) {
  if (auto it = f.values.find(action); it != f.values.end()) {
    std::string text = it->second;
    if (!f.operation.empty() && f.operation != it->second) text = f.operation + " " + text;
    return {true, text};
  }
  if (auto it = f.skip_values.find(action); it != f.skip_values.end()) return {false, it->second};
  if (!f.skip.empty()) return {false, f.skip};
  return {false, "no operation for this action"};
}

std::string pad(std::string s, std::size_t width) {
  std::size_t length = utf8_length(s);
  if (length < width) s.append(width - length, ' ');
  return s;
}

std::string shorten(const std::string& s, std::size_t width) {
  if (utf8_length(s) <= width) return s;
  // Cut on a byte boundary that is not inside a UTF-8 sequence.
  std::size_t cut = width - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "…";
}

}  // namespace

Result<MappingMatrix> build_mapping_matrix(const Registry& registry, const std::string& mappings_dir) {
  MappingMatrix m;
  std::vector<std::shared_ptr<const MappingTable>> tables;
  for (const auto& vendor : registry.vendors()) {
    auto table = load_mapping_table(vendor, mappings_dir, &registry);
    if (!table) return std::unexpected(std::move(table).error());
    m.vendors.push_back(vendor);
    m.titles.push_back((*table)->title());
    tables.push_back(*table);
  }
  for (const auto& neutral : MappingTable::neutral_fields()) {
    if (neutral == "action") {
      for (auto action : kActions) {
        MatrixRow row{"action." + std::string(action), {}};
        for (const auto& t : tables) row.cells.push_back(action_cell(t->field(neutral), action));
        m.rows.push_back(std::move(row));
      }
      continue;
    }
    MatrixRow row{neutral, {}};
    for (const auto& t : tables) row.cells.push_back(cell_for(t->field(neutral)));
    m.rows.push_back(std::move(row));
  }
  return m;
}

std::string matrix_to_text(const MappingMatrix& m) {
  constexpr std::size_t kColumn = 34;
  std::string out = pad("field", 22);
  for (const auto& v : m.vendors) out += pad(v, kColumn);
  out += "\n";
  std::vector<std::string> reasons;
  for (const auto& row : m.rows) {
    std::string line = pad(row.field, 22);
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      const auto& c = row.cells[i];
      if (c.mapped) {
        line += pad(shorten(c.text, kColumn - 2), kColumn);
      } else {
        reasons.push_back(m.vendors[i] + " " + row.field + ": " + c.text);
        line += pad("— [" + std::to_string(reasons.size()) + "]", kColumn);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  out += "\n— = not expressible at that vendor; the plan lists it under `skipped` with this reason:\n";
  for (std::size_t i = 0; i < reasons.size(); ++i) out += "[" + std::to_string(i + 1) + "] " + reasons[i] + "\n";
  out += "\nSources: ";
  for (std::size_t i = 0; i < m.vendors.size(); ++i) out += (i ? "; " : "") + m.vendors[i] + " = " + m.titles[i];
  out += ".\n";
  return out;
}

std::string matrix_to_markdown(const MappingMatrix& m) {
  auto escape = [](std::string s) {
    std::string out;
    for (char c : s) {
      if (c == '|') out += "\\|";
      else out.push_back(c);
    }
    return out;
  };
  std::string out = "| neutral |";
  for (const auto& v : m.vendors) out += " " + v + " |";
  out += "\n|---|";
  for (std::size_t i = 0; i < m.vendors.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& row : m.rows) {
    out += "| `" + row.field + "` |";
    for (const auto& c : row.cells) out += " " + (c.mapped ? escape(c.text) : "— " + escape(c.text)) + " |";
    out += "\n";
  }
  return out;
}

boost::json::value matrix_to_json(const MappingMatrix& m) {
  boost::json::array vendors;
  for (std::size_t i = 0; i < m.vendors.size(); ++i)
    vendors.push_back(boost::json::object{{"vendor", m.vendors[i]}, {"title", m.titles[i]}});
  boost::json::array rows;
  for (const auto& row : m.rows) {
    boost::json::object cells;
    for (std::size_t i = 0; i < row.cells.size(); ++i) {
      const auto& c = row.cells[i];
      cells[m.vendors[i]] = c.mapped ? boost::json::object{{"maps_to", c.text}} : boost::json::object{{"skipped", c.text}};
    }
    rows.push_back(boost::json::object{{"field", row.field}, {"vendors", std::move(cells)}});
  }
  return boost::json::object{{"vendors", std::move(vendors)}, {"fields", std::move(rows)}};
}

}  // namespace expbridge
