"""`overfeat demo` as a script, with the same flags.

python pipelines/demo.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
