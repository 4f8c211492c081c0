{
  "targets": [
    {
      "target_name": "hub_libev",
      "sources": [
        "src/native/addon.cc",
        "src/native/loop.cc",
        "src/native/timer.cc",
        "src/native/idle.cc",
        "src/native/socket.cc",
        "src/native/stream.cc",
        "src/native/listener.cc",
        "src/native/udp.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(node scripts/libev-config.mjs cflags)"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden"],
      "conditions": [
        ["OS=='linux'", { "ldflags": ["-Wl,-z,nodelete"] }]
      ],
      "libraries": ["<!@(node scripts/libev-config.mjs libs)"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "OTHER_CFLAGS": ["<!@(node scripts/libev-config.mjs cflags)"]
      }
    }
  ]
}
