"""Pinned source of the real CT samples: the example volumes shipped in the qim3d wheel (MIT)."""

WHEEL = "qim3d==1.5.3"
WHEEL_FILE = "qim3d-1.5.3-py3-none-any.whl"
WHEEL_SHA256 = "8fb1fab56af679e4bec14b41c9599bf84a6d9710c93b75a916f8a3dc54df789b"

#: sample name -> (file inside the wheel, sha256 of that file, shape, description)
SAMPLES = {
    "nerves": ("qim3d/examples/NT_128x128x128.tif",
               "e2f32d057d52f751b4d21837db80ba0c4f3acc4fad470a6523dcc55607d05a91",
               (128, 128, 128),
               "myelinated nerve tissue: light axons wrapped in dark myelin rings, along z"),
    "fibres": ("qim3d/examples/fibers_150x150x150.tif",
               "b32b1035125c46274947763e46ed1f20fdd7560f9a3cb45c40ca7279e0da3e18",
               (150, 150, 150),
               "multi-directional non-crimp glass-fibre composite: fibre plies in a polymer matrix"),
    "shell": ("qim3d/examples/shell_225x128x128.tif",
              "4445025627dc6b0443395275a8c805eff43fdbba52445cb9a31443e9627e80d9",
              (225, 128, 128),
              "gastropod shell in cross-section: rolled shell wall with growth layers"),
    "bone": ("qim3d/examples/bone_128x128x128.tif",
             "8899e5674fefad047e6c1e8a98cccb04258f002433d22b53164aa2a049cf6377",
             (128, 128, 128),
             "trabecular bone: plates and rods of bone with marrow space between them"),
}
