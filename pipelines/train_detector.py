"""`overfeat train detect` as a script, with the same flags.

python pipelines/train_detector.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "detect", *sys.argv[1:]]))
