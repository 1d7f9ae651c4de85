"""`overfeat predict` as a script, with the same flags.

python pipelines/predict.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
