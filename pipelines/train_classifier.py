"""`overfeat train classify` as a script (same flags).

python pipelines/train_classifier.py --preset fashion_small --set train.epochs=3
"""

import argparse
import sys

from overfeat_tf.cli import add_train_classify_args, run_train_classify

if __name__ == "__main__":
    parser = add_train_classify_args(
        argparse.ArgumentParser(description=__doc__.splitlines()[0])
    )
    sys.exit(run_train_classify(parser.parse_args()))
