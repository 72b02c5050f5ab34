#include "import_command.hpp"

#include <iostream>

#include "expbridge/import.hpp"
#include "loss_report_writer.hpp"

namespace expbridge::cli {

ImportCommand::ImportCommand(CLI::App& app) {
  command_ = app.add_subcommand("import", "Read a vendor's saved files into neutral documents (offline; sends nothing)");
  command_->add_option("vendor", vendor_, "The vendor the files are from (evidently)")->required();
  command_->add_option("files", files_, "AWS CLI/SDK JSON, Terraform state, CloudFormation templates (kind told from content)")
      ->required();
  command_->add_option("--out", out_, "The import folder to write (created; an earlier import there is replaced)")
      ->required();
  command_->add_option("--format", format_, "The loss report printed: text or json")->check(CLI::IsMember({"text", "json"}));
  command_->add_option("--mappings", mappings_dir_, "Folder of <vendor>.yaml tables replacing the embedded ones");
}

int ImportCommand::run(const Registry& registry) const {
  std::vector<ImportFile> files;
  for (const auto& f : files_) files.push_back(ImportFile{f, std::nullopt});
  auto result = import_vendor_files(vendor_, files, builtin_importers(), &registry, mappings_dir_);
  if (!result) {
    std::cerr << "expbridge: error: " << result.error().describe() << "; nothing was written\n";
    return 2;
  }
  if (auto written = write_import_folder(out_, *result); !written) {
    std::cerr << "expbridge: error: " << written.error().describe() << "\n";
    return written.error().code == ErrorCode::invalid_input ? 2 : 1;
  }
  for (const auto& note : result->notes) std::cerr << "expbridge: note: " << note.source << ": " << note.message << "\n";
  if (format_ == "json") {
    write_loss_report_json(std::cout, result->losses);
  } else {
    write_loss_report_text(std::cout, result->losses);
    std::cout << result->experiments.size() << " experiment(s) written to " << out_ << "\n";
  }
  return 0;
}

}  // namespace expbridge::cli
