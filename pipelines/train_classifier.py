"""`overfeat train classify` as a script, with the same flags.

python pipelines/train_classifier.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "classify", *sys.argv[1:]]))
