"""dtransfer: transferring disentangled representations, in JAX."""

from setuptools import find_packages, setup

setup(
    name="dtransfer",
    version="0.1.0",
    description=("Weakly supervised disentangled representations, their transfer to other "
                 "datasets, fine-tuning and the OMES metric, in JAX/Flax."),
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    # Only the library is installed. configs/ and launch/ are used from a
    # checkout (as in the flax examples): commands run from the repository root.
    packages=find_packages(include=["dtransfer", "dtransfer.*"]),
    package_data={"dtransfer": ["datasets/**/*.tsv", "datasets/**/*.md", "datasets/**/*.bib",
                                "datasets/**/*.txt", "datasets/**/dummy_data/*",
                                "datasets/**/*.png", "datasets/**/*.npz"]},
    include_package_data=True,
    python_requires=">=3.11",
    install_requires=[
        "jax>=0.7",
        "flax>=0.11",
        "optax>=0.2.4",
        "orbax-checkpoint>=0.11",
        "numpy>=1.26",
        "tensorflow-datasets>=4.9.9",
        "importlib_resources",  # TFDS needs it without declaring it (tfds#11212)
        "array_record>=0.7",
        "grain>=0.2.10",
        "scikit-learn>=1.4",
        "absl-py>=2.0",
        "ml_collections>=0.1.1",
        "matplotlib>=3.8",
        "pillow>=10",
        "h5py>=3.10",
        "scipy>=1.10",   # .mat files (Cars3D); also scikit-learn's
        "tqdm",          # build progress bars; also TFDS's
        "etils",
    ],
    extras_require={"test": ["pytest>=8", "chex>=0.1.87",
                             # two test processes (pytest.ini: -n 2): most tests are
                             # single-threaded XLA compiles
                             "pytest-xdist>=3.5",
                             # notebooks/ executed by tests/notebooks_test.py
                             "nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6",
                             # TensorBoard's event reader checks the event files we write
                             "tensorboard>=2.16"]},
)
