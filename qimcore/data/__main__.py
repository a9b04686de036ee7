"""``python -m qimcore.data [fetch]``: fetch and verify the real CT samples."""

import sys

from ._samples import data_dir, fetch

if __name__ == "__main__":
    if sys.argv[1:] not in ([], ["fetch"]):
        sys.exit("usage: python -m qimcore.data [fetch]")
    for path in fetch():
        print(f"ok  {path}")
    print(f"samples in {data_dir()}")
