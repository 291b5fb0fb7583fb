"""Rebuild a model from its recipe: every stage in order (data, pairs, masked-token pretraining, contrastive
training, soup, int8, head refit, export, fixtures, card), each writing OUT/<stage>/manifest.json.

python3 kernels/train/reproduce.py --recipe kernels/train/recipes/v27.json --out DIR [--from-stage S]
    [--to-stage S] [--deadline SECONDS] [--force]

Exit code 0: the asked stages are done; 3: stopped at the deadline before a step that would not fit (run the same
command again to go on); anything else: a failure (the stage's log is in OUT/<stage>/). See kernels/train/README.md.
"""
import argparse
import sys

from lens_train import recipe, stages


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", required=True, help="kernels/train/recipes/NAME.json")
    ap.add_argument("--out", required=True, help="run folder: one sub-folder a stage")
    ap.add_argument("--from-stage", default=None, help="start here; earlier stages' outputs are read from OUT")
    ap.add_argument("--to-stage", default=None, help="stop after this stage")
    ap.add_argument("--deadline", type=float, default=0, help="seconds this call may run (0: no limit)")
    ap.add_argument("--force", action="store_true", help="rerun stages whose manifest is up to date")
    a = ap.parse_args()
    try:
        import torch  # noqa: F401  (every stage's steps run under this interpreter)
    except ImportError:
        sys.exit(f"{sys.executable} has no torch: run reproduce.py with a Python that has it "
                 "(Debian: apt-get install python3-torch python3-onnx python3-scipy, then /usr/bin/python3)")
    sys.exit(recipe.run(stages, a.recipe, a.out, a.from_stage, a.to_stage, a.deadline, a.force))


if __name__ == "__main__":
    main()
