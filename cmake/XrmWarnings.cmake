# Warnings for our own targets only (Debian's headers are included as system headers).
add_library(xrm_warnings INTERFACE)
target_compile_options(xrm_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
  # GCC 12 at -O2 reports std::string copies as overlapping memcpy (GCC bug 105329): noise. Clang
  # (the fuzz preset) has no such warning and would warn about the option itself.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
