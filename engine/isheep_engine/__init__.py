"""isheep engine: the Python jobs (import-model, generate, train) that the TypeScript activities run.

    PYTHONPATH=/path/to/engine python -m isheep_engine <job> --spec spec.json
"""

__version__ = "0.1.0"
