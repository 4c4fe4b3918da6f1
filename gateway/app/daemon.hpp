#pragma once
// xrm-gatewayd's whole life: arguments, configuration, storage, the io_context and its stages,
// signals and systemd notification. main() only calls run().
#include "xrm/common/exit_codes.hpp"

namespace xrm::app {

int run(int argc, char** argv);

}  // namespace xrm::app
