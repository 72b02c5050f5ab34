// The cross-vendor mapping matrix, built from the mapping tables (never written by hand).
#pragma once

#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "expbridge/adapter.hpp"

namespace expbridge {

struct MatrixCell {
  bool mapped = false;
  std::string text;  ///< where the field goes, or why it cannot
};

struct MatrixRow {
  std::string field;              ///< `exposure`, `action.start`, ...
  std::vector<MatrixCell> cells;  ///< one per vendor, in `MappingMatrix::vendors` order
};

struct MappingMatrix {
  std::vector<std::string> vendors;
  std::vector<std::string> titles;
  std::vector<MatrixRow> rows;
};

/// One row per neutral field (`action` split per value), one column per registered vendor.
Result<MappingMatrix> build_mapping_matrix(const Registry& registry, const std::string& mappings_dir = {});

std::string matrix_to_text(const MappingMatrix& matrix);
std::string matrix_to_markdown(const MappingMatrix& matrix);
boost::json::value matrix_to_json(const MappingMatrix& matrix);

}  // namespace expbridge
