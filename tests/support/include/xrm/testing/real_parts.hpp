#pragma once
// The Mosquitto programs a test or benchmark starts, as the build found them. Include only from
// targets set up with xrm_use_real_parts() (cmake/XrmTestTools.cmake), which defines the paths.
#include "xrm/testing/mosquitto.hpp"

namespace xrm::testing {

inline MosquittoTools mosquitto_tools() {
  return {XRM_MOSQUITTO_PATH, XRM_MOSQUITTO_CTRL_PATH, XRM_MOSQUITTO_DYNSEC_PATH};
}

}  // namespace xrm::testing
