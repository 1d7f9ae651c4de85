"""`overfeat features` as a script (same flags).

python pipelines/features.py --help
"""

import argparse
import sys

from overfeat_tf.cli import add_features_args, run_features

if __name__ == "__main__":
    parser = add_features_args(
        argparse.ArgumentParser(description=__doc__.splitlines()[0])
    )
    sys.exit(run_features(parser.parse_args()))
