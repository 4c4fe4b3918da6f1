#include "daemon.hpp"

int main(int argc, char** argv) { return xrm::app::run(argc, argv); }
