"""`overfeat describe` as a script, with the same flags.

python pipelines/describe.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["describe", *sys.argv[1:]]))
