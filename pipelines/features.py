"""`overfeat features` as a script, with the same flags.

python pipelines/features.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["features", *sys.argv[1:]]))
