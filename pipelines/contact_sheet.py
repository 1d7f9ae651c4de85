"""`overfeat contact-sheet` as a script (same flags).

python pipelines/contact_sheet.py fashion_scenes/detection --out sheet.png
"""

import argparse
import sys

from overfeat_tf.cli import add_contact_sheet_args, run_contact_sheet

if __name__ == "__main__":
    parser = add_contact_sheet_args(
        argparse.ArgumentParser(description=__doc__.splitlines()[0])
    )
    sys.exit(run_contact_sheet(parser.parse_args()))
