"""pytest's root for kernels/train: this folder goes on sys.path (pytest's rootdir conftest), so the tests import
the training package as `lens_train`, as reproduce.py does."""
