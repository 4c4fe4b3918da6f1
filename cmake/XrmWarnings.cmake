# Warnings for our own targets only (Debian's headers are included as system headers).
add_library(xrm_warnings INTERFACE)
target_compile_options(xrm_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2 -Wimplicit-fallthrough)
