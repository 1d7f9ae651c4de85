"""`overfeat evaluate` as a script, with the same flags.

python pipelines/evaluate.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
