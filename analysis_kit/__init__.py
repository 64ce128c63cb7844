"""analysis_kit: customer and sales analysis for sales-team templates, in Jupyter notebooks.

The most used functions are importable from the package itself::

    import analysis_kit as ak
    customers = ak.read_table("data/客户信息表.csv")
    result = ak.clean_table(customers, as_of="2024-06-30")
    result.audit.summary()

Importing the package has no side effects: no pandas options, fonts, warnings filters or loggers
are changed.
"""

from .cleaning import Audit, CleanResult, clean_table, stable_customer_id
from .columns import CHOICES, STAGES, TABLES
from .errors import AnalysisKitError, ParameterError, ReadError, SchemaError
from .inspection import Inspection, inspect_export
from .io import read_table, read_workbook

__all__ = [
    "CHOICES",
    "STAGES",
    "TABLES",
    "AnalysisKitError",
    "Audit",
    "CleanResult",
    "Inspection",
    "ParameterError",
    "ReadError",
    "SchemaError",
    "clean_table",
    "inspect_export",
    "read_table",
    "read_workbook",
    "stable_customer_id",
]

__version__ = "0.1.0"
