"""Print an OverFeat network's parameters, strides and map sizes.

python pipelines/describe.py --arch accurate --json
"""

import argparse
import sys

from overfeat_tf.cli import add_describe_args, run_describe

if __name__ == "__main__":
    parser = add_describe_args(
        argparse.ArgumentParser(description=__doc__.splitlines()[0])
    )
    sys.exit(run_describe(parser.parse_args()))
