"""`overfeat batch-predict` as a script, with the same flags.

python pipelines/batch_predict.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["batch-predict", *sys.argv[1:]]))
