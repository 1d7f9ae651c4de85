"""`overfeat export` as a script, with the same flags.

python pipelines/export.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
