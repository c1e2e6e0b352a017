"""Which callables a pickle may import: reviewed as safe, blocked, or unreviewed.

Loading a pickle calls every callable it imports, with arguments the file chooses. So:

- **safe** (reviewed here): builds plain data whatever its arguments — containers,
  datetime, decimal, numpy arrays and random states, pandas frames, series and indexes,
  torch tensors, joblib's array wrapper. No finding.
- **blocked** (high, fails the publish): can run commands, run or compile code, import
  modules, reach attributes by name, open, read or write files, use the network, or load
  another pickle (re-entrancy). That is every name of Python's standard library not
  reviewed as safe, the modules and functions that picklescan, modelscan and fickling
  list as dangerous in third-party packages, any name that looks like such a function
  (``load``, ``read_*``, ``system``, ``run`` ...), and attribute paths (``A.b``) that are
  not reviewed.
- **unreviewed** (medium, publishes, shown to subscribers): any other third-party class
  or function, typically a scikit-learn estimator or the publisher's own class. Loading
  runs that library's code, which is as safe as the library — the same trust as
  importing it, and what the big model hubs show as "imports" next to a model file.
"""

from __future__ import annotations

import re
import sys
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING

SAFE = "safe"
UNREVIEWED = "unreviewed"
BLOCKED = "blocked"


def _names(module: str, *names: str) -> set[tuple[str, str]]:
    return {(module, name) for name in names}


_TORCH_STORAGES = tuple(
    f"{kind}Storage"
    for kind in ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
                 "ComplexFloat", "ComplexDouble", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4", "Untyped")
)
_TORCH_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
                 "complex64", "complex128", "float", "double", "half", "long", "int", "short")
_PANDAS_TOP = (
    "DataFrame", "Series", "Index", "RangeIndex", "MultiIndex", "DatetimeIndex", "TimedeltaIndex", "PeriodIndex",
    "CategoricalIndex", "IntervalIndex", "Categorical", "CategoricalDtype", "DatetimeTZDtype", "PeriodDtype",
    "IntervalDtype", "StringDtype", "SparseDtype", "ArrowDtype", "BooleanDtype", "Float32Dtype", "Float64Dtype",
    "Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype", "UInt16Dtype", "UInt32Dtype",
    "UInt64Dtype", "Interval", "Period", "Timestamp", "Timedelta", "DateOffset", "NA", "NaT",
)
_PANDAS_ARRAYS = (
    "DatetimeArray", "TimedeltaArray", "PeriodArray", "IntegerArray", "FloatingArray", "BooleanArray",
    "StringArray", "IntervalArray", "SparseArray", "ArrowStringArray", "ArrowExtensionArray", "NumpyExtensionArray",
)

# (module, name) pairs reviewed as safe: they build data from their arguments and do
# nothing else (no files, no imports, no attribute lookups by name, no code).
SAFE_PICKLE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        *_names("builtins", "set", "frozenset", "dict", "list", "tuple", "bytes", "bytearray", "complex", "slice",
                "range", "int", "float", "str", "bool", "object", "Ellipsis", "NotImplemented"),
        # Protocol 2 spells every bytes object as _codecs.encode(str, "latin1").
        ("_codecs", "encode"),
        # copyreg._reconstructor(cls, base, state) calls base.__new__(cls): as safe as cls, which
        # the pickle must import itself (and that import is checked on its own).
        ("copyreg", "_reconstructor"),
        *_names("collections", "OrderedDict", "defaultdict", "deque", "Counter", "ChainMap"),
        *_names("datetime", "datetime", "date", "time", "timedelta", "timezone"),
        ("zoneinfo", "ZoneInfo"),
        ("zoneinfo", "ZoneInfo._unpickle"),  # reads the tz database by key, via getattr(ZoneInfo, "_unpickle")
        ("decimal", "Decimal"),
        ("fractions", "Fraction"),
        ("uuid", "UUID"),
        *_names("pathlib", "PurePath", "PurePosixPath", "PureWindowsPath", "Path", "PosixPath", "WindowsPath"),
        *_names("array", "array", "_array_reconstructor"),
        ("types", "SimpleNamespace"),
        ("argparse", "Namespace"),  # torch checkpoints often keep their training arguments
        ("re", "_compile"),
        # functools.partial only binds arguments to a callable; that callable is imported
        # by the pickle itself and checked like any other import.
        ("functools", "partial"),
        # numpy 1 (numpy.core) and numpy 2 (numpy._core)
        *_names("numpy", "ndarray", "dtype", "record", "bool_", "float64", "float32", "int64", "int32"),
        *(
            (module, name)
            for core in ("numpy.core", "numpy._core")
            for module, name in (
                (f"{core}.multiarray", "_reconstruct"),
                (f"{core}.multiarray", "scalar"),
                (f"{core}.numeric", "_frombuffer"),
                (f"{core}.records", "recarray"),
                (f"{core}.records", "record"),
            )
        ),
        ("numpy.rec", "recarray"),
        *_names("numpy.ma", "MaskedArray"),
        *_names("numpy.ma.core", "MaskedArray", "_mareconstruct"),
        *_names("numpy.random._pickle", "__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"),
        ("numpy.random", "__RandomState_ctor"),
        ("numpy.random.mtrand", "RandomState"),
        ("numpy.random._mt19937", "MT19937"),
        *_names("numpy.random._pcg64", "PCG64", "PCG64DXSM"),
        ("numpy.random._philox", "Philox"),
        ("numpy.random._sfc64", "SFC64"),
        *_names("numpy.random.bit_generator", "SeedSequence", "__pyx_unpickle_SeedSequence"),
        # pandas: what DataFrame, Series, Index, Categorical, Timestamp ... pickle to (pandas 2 and 3)
        *_names("pandas", *_PANDAS_TOP),
        *_names("pandas.arrays", *_PANDAS_ARRAYS),
        ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
        ("pandas._libs.internals", "_unpickle_block"),
        ("pandas._libs.sparse", "IntIndex"),
        ("pandas._libs.sparse", "BlockIndex"),
        ("pandas._libs.tslibs.nattype", "_nat_unpickle"),
        ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
        ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
        *_names("pandas.core.indexes.base", "_new_Index", "Index"),
        ("pandas.core.indexes.datetimes", "_new_DatetimeIndex"),
        ("pandas.core.indexes.timedeltas", "_new_TimedeltaIndex"),
        ("pandas.core.indexes.period", "_new_PeriodIndex"),
        ("pandas.core.indexes.interval", "_new_IntervalIndex"),
        ("pandas.core.indexes.range", "RangeIndex"),
        ("pandas.core.indexes.multi", "MultiIndex"),
        *_names("pandas.core.internals.managers", "BlockManager", "SingleBlockManager"),
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.series", "Series"),
        ("pandas.core.arrays.categorical", "Categorical"),
        *_names("pandas.core.dtypes.dtypes", "CategoricalDtype", "DatetimeTZDtype", "PeriodDtype", "IntervalDtype"),
        ("dateutil.relativedelta", "relativedelta"),  # inside pandas.DateOffset
        # torch: what torch.save writes for tensors and state_dicts
        *_names("torch._utils", "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
                "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
                "_rebuild_device_tensor_from_numpy", "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass"),
        ("torch._tensor", "_rebuild_from_type_v2"),
        *_names("torch", *_TORCH_STORAGES, *_TORCH_DTYPES, "Size", "device", "Tensor", "strided", "sparse_coo"),
        ("torch.nn.parameter", "Parameter"),
        # joblib: the wrapper that stands in a joblib file for a numpy array (the scan walks the array too)
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    }
)

# pandas offsets (MonthEnd, Day, BusinessDay ...) are plain value classes.
_SAFE_MODULES_OF_CLASSES = ("pandas._libs.tslibs.offsets",)

# Whole modules (and their submodules) that can execute code, touch files or the network,
# or load another pickle. Python's standard library is blocked by default (see verdict), so
# this lists third-party packages, after picklescan, modelscan and fickling.
BLOCKED_MODULES = frozenset(
    {
        "aiohttp", "requests", "httpx", "urllib3", "boto3", "botocore", "fsspec", "s3fs", "paramiko", "pexpect",
        "dill", "cloudpickle", "joblib.numpy_pickle_compat", "skops.io", "yaml", "ruamel", "jsonpickle",
        "numpy.f2py", "numpy.testing", "numpy.distutils", "numpy.ctypeslib", "numpy.lib.npyio",
        "numpy.lib._npyio_impl", "numpy.lib.format", "numpy.lib.utils",
        "pandas.io", "pandas.plotting", "pandas.core.computation", "pandas._testing", "pandas.util",
        "pandas._config", "pandas.api",
        "torch.serialization", "torch.hub", "torch.jit", "torch.package", "torch.utils.cpp_extension",
        "torch._inductor", "torch._dynamo", "torch.fx", "torch.utils.collect_env", "torch.utils.bottleneck",
        "torch.utils.data.datapipes", "torch.utils._config_module", "torch.testing", "torch.distributed",
        "torch.multiprocessing", "torch.ops", "torch.library", "torch.compiler",
        "sklearn.datasets", "sklearn.externals", "sklearn.utils._testing",
        "scipy.io", "scipy._lib._testutils", "scipy.weave",
        "tensorflow", "keras", "h5py", "IPython", "ipykernel", "jupyter_client", "notebook", "setuptools",
        "pip", "distutils", "_distutils_hack", "gallery_widgets",
    }
)
BLOCKED_NAMES = frozenset(
    {
        ("numpy", name)
        for name in ("load", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt", "fromfile",
                     "tofile", "memmap", "fromregex", "DataSource", "lookfor", "info", "source")
    }
    | {("pandas", name) for name in ("eval", "HDFStore", "ExcelWriter", "ExcelFile", "set_option", "option_context")}
    | {("torch", name) for name in ("load", "save", "from_file", "compile")}
    | {("joblib", name) for name in ("load", "dump", "Memory", "Parallel", "delayed", "register_parallel_backend")}
    | {("joblib.numpy_pickle", name) for name in ("load", "dump", "NumpyUnpickler", "load_compatibility")}
)

# The last part of a name that says "this runs, compiles or imports code, or opens, reads,
# writes or fetches something" (after picklescan's and fickling's lists of such callables).
_RISKY_NAME = re.compile(
    r"^_*(load|save|dump|read|write|open|exec|eval|system|popen|spawn|run|call|check_|compile|import|fetch|"
    r"download|urlopen|remove|unlink|rmtree|rename|chmod|chown|kill|fork|getattr|setattr|delattr|attrgetter|"
    r"methodcaller|itemgetter|breakpoint|input|getoutput|getstatusoutput)[a-z0-9_]*$"
)
_STDLIB = frozenset(sys.stdlib_module_names) | {"__builtin__", "copy_reg", "exceptions"}


# Standard-library modules known to run code, reach the system, files or the network, or
# load pickles (the union of picklescan's, modelscan's and fickling's lists).
DANGEROUS_STDLIB = frozenset({
    "os", "posix", "nt", "subprocess", "_posixsubprocess", "sys", "builtins", "runpy", "importlib", "_imp",
    "zipimport", "pkgutil", "pty", "socket", "_socket", "ssl", "shutil", "code", "codeop", "webbrowser", "pickle",
    "_pickle", "marshal", "shelve", "operator", "_operator", "functools", "ctypes", "_ctypes", "multiprocessing",
    "types", "inspect", "pdb", "bdb", "cProfile", "profile", "timeit", "trace", "http", "urllib", "ftplib",
    "smtplib", "imaplib", "poplib", "telnetlib", "nntplib", "asyncio", "xmlrpc", "socketserver", "tempfile", "glob",
    "fileinput", "io", "_io", "pydoc", "venv", "ensurepip", "doctest", "idlelib", "lib2to3", "distutils", "sqlite3",
    "mmap", "signal", "threading", "_thread", "atexit", "logging", "tarfile", "zipfile", "uuid", "platform", "gc",
    "site", "unittest", "test", "linecache", "compileall", "py_compile", "_osx_support", "_aix_support", "_pyrepl",
    "select", "selectors", "syslog", "commands",
})


def known_dangerous(module: str, name: str) -> bool:
    """Whether ``module.name`` is on a list of what can execute, not just unreviewed or unknown.

    Used where the scan follows a loader that may well fail before reaching the import (the
    bytes of a joblib array read as opcodes), so a mere unknown name is no evidence.
    """
    module, name = normalise(module, name)
    if (module, name) in SAFE_PICKLE_GLOBALS:
        return False
    top = module.split(".")[0]
    return (
        top in DANGEROUS_STDLIB
        or any(module == blocked or module.startswith(blocked + ".") for blocked in BLOCKED_MODULES)
        or (module, name) in BLOCKED_NAMES
        or bool(_RISKY_NAME.match(name.rsplit(".", 1)[-1]))
    )


def normalise(module: str, name: str) -> tuple[str, str]:
    """The names the unpickler really imports: protocols 0-2 write Python 2 names (fix_imports)."""
    if (module, name) in NAME_MAPPING:
        return NAME_MAPPING[(module, name)]
    return IMPORT_MAPPING.get(module, module), name


def verdict(module: str, name: str) -> tuple[str, str]:
    """(SAFE | UNREVIEWED | BLOCKED, why) for a callable a pickle imports as ``module.name``."""
    module, name = normalise(module, name)
    if (module, name) in SAFE_PICKLE_GLOBALS:
        return SAFE, "reviewed as safe"
    if not all(part.isidentifier() for part in (*module.split("."), *name.split("."))):
        return BLOCKED, "its name is not a plain Python name"
    top = module.split(".")[0]
    if top in _STDLIB:
        return BLOCKED, (
            "it is part of Python's standard library, whose callables can run commands, code or imports, "
            "or open files and sockets; only plain data types of it are allowed"
        )
    if any(module == blocked or module.startswith(blocked + ".") for blocked in BLOCKED_MODULES):
        return BLOCKED, "its module can run code, touch files or the network, or load other pickled files"
    if (module, name) in BLOCKED_NAMES:
        return BLOCKED, "it loads, saves or evaluates something besides the pickle itself"
    if "." in name:
        return BLOCKED, "it reaches an attribute through a dotted path, which can lead anywhere"
    if name.startswith("__") and name.endswith("__"):
        return BLOCKED, "it is a special (dunder) attribute, which can lead anywhere"
    if _RISKY_NAME.match(name):
        return BLOCKED, "its name says it runs code, or loads, opens or fetches something"
    if module in _SAFE_MODULES_OF_CLASSES and name[:1].isupper():
        return SAFE, "reviewed as safe"
    return UNREVIEWED, "not reviewed by the gallery"
