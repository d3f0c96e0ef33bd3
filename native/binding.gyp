{
  "variables": {
    "blas_include%": ".",
    "blas_lib%": "openblas"
  },
  "targets": [
    {
      "target_name": "detox_blas",
      "sources": ["blas.c"],
      "include_dirs": ["<(blas_include)"],
      "libraries": ["-l<(blas_lib)"],
      "cflags": ["-O2", "-std=c11", "-Wall"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2"] }
    }
  ]
}
