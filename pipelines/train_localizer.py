"""`overfeat train localize` as a script, with the same flags.

python pipelines/train_localizer.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "localize", *sys.argv[1:]]))
