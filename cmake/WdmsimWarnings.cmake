# Warnings are errors on every target of this project (gcc and clang).
add_compile_options(-Wall -Wextra -Werror)

# Sanitizer presets set WDMSIM_SANITIZE to "address;undefined" or "thread".
set(WDMSIM_SANITIZE "" CACHE STRING "Sanitizers for every target (address, undefined, thread)")
if(WDMSIM_SANITIZE)
  list(JOIN WDMSIM_SANITIZE "," _wdmsim_san)
  add_compile_options(-fsanitize=${_wdmsim_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_wdmsim_san})
endif()

# The fuzz preset: every target carries libFuzzer's coverage instrumentation; the fuzz targets
# alone link libFuzzer itself (tests/fuzz).
option(WDMSIM_FUZZ "Build the fuzz targets with libFuzzer (clang only)" OFF)
if(WDMSIM_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
