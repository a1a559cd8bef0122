"""What unit code may name: the allowed builtins and, per allowed module, the attributes it may use.

`"*"` admits a module's public attributes that are not themselves modules, minus `EXCLUDED` (file,
network, host-callback and global-configuration APIs); a submodule is reachable only where it has an
entry of its own. Names resolve against the real modules, imported here by trusted code.
"""

from __future__ import annotations

import functools
import importlib
import types

from genesys_jax import gau

ALLOWED_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "callable", "chr", "complex", "dict", "divmod", "enumerate", "filter",
    "float", "frozenset", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min",
    "next", "object", "ord", "pow", "print", "property", "range", "repr", "reversed", "round", "set",
    "slice", "sorted", "staticmethod", "classmethod", "str", "sum", "super", "tuple", "zip",
    "Ellipsis", "NotImplemented",
    "ArithmeticError", "AssertionError", "Exception", "IndexError", "KeyError", "LookupError",
    "NotImplementedError", "OverflowError", "RuntimeError", "TypeError", "ValueError", "ZeroDivisionError",
})
"""Builtins a unit may name; everything else (open, exec, getattr, type, vars, SystemExit, ...) is not."""

MODULES: dict[str, frozenset[str] | str] = {
    "jax": frozenset({
        "Array", "ShapeDtypeStruct", "checkpoint", "custom_jvp", "custom_vjp", "eval_shape", "grad", "jit",
        "lax", "named_call", "named_scope", "nn", "numpy", "random", "remat", "scipy", "tree", "tree_util",
        "value_and_grad", "vmap", "dtypes", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "linearize",
        "custom_gradient", "ensure_compile_time_eval"}),
    "jax.numpy": "*", "jax.numpy.linalg": "*", "jax.numpy.fft": "*",
    "jax.lax": "*", "jax.nn": "*", "jax.nn.initializers": "*", "jax.random": "*",
    "jax.scipy": frozenset({"special", "linalg"}), "jax.scipy.special": "*", "jax.scipy.linalg": "*",
    "jax.tree": "*", "jax.tree_util": "*", "jax.dtypes": frozenset({"canonicalize_dtype", "finfo", "iinfo"}),
    "flax": frozenset({"nnx"}),
    "flax.nnx": "*", "flax.nnx.initializers": "*",
    "einops": frozenset({"einsum", "pack", "parse_shape", "rearrange", "reduce", "repeat", "unpack"}),
    "math": "*",
    "numpy": frozenset({
        "abs", "arange", "array", "asarray", "bool_", "ceil", "clip", "concatenate", "cumsum", "dtype", "e",
        "exp", "eye", "finfo", "float16", "float32", "float64", "floor", "iinfo", "inf", "int8", "int16",
        "int32", "int64", "isfinite", "linspace", "log", "log2", "maximum", "mean", "minimum", "nan",
        "newaxis", "ones", "pi", "prod", "reshape", "sqrt", "stack", "sum", "transpose", "tril", "triu",
        "uint8", "uint32", "where", "zeros", "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin", "arccos",
        "arctan", "power", "square", "log1p", "expm1", "exp2", "log10", "sign", "round", "full", "diag",
        "outer", "einsum", "matmul", "dot", "amax", "amin", "argmax", "argmin", "max", "min", "std", "var",
        "cumprod", "flip", "roll", "repeat", "tile", "expand_dims", "squeeze", "broadcast_to", "meshgrid",
        "float_power", "sinc", "isnan", "logspace", "geomspace"}),
    "functools": frozenset({"partial", "reduce"}),  # not wraps: it copies attributes by name
    "typing": frozenset({"Any", "Callable", "Dict", "Iterable", "List", "Literal", "Mapping", "NamedTuple",
                         "Optional", "Sequence", "Tuple", "TypeVar", "Union"}),
    "dataclasses": frozenset({"dataclass", "field", "fields", "replace"}),
    "__future__": frozenset({"annotations"}),
    "genesys_jax": frozenset({"gau"}),
    "genesys_jax.gau": frozenset(gau.__all__),
    "genesys_jax.gau.ops": "*",
    "genesys_jax.gau.base": frozenset({"ChildDecl", "GAUBase", "gau_test"}),
    "genesys_jax.gau.layers": frozenset({"Dense", "LOGICAL_AXES", "constant", "default_init", "param"}),
    "genesys_jax.gau.errors": frozenset({"DesignError", "UnitShapeError"}),
}
"""Allowed module -> the attribute names a unit may use from it ("*": every public non-module one)."""

EXCLUDED: dict[str, frozenset[str]] = {
    "jax.numpy": frozenset({"load", "save", "savez", "fromfile", "set_printoptions", "printoptions"}),
    "jax.lax": frozenset({"infeed", "outfeed", "platform_dependent"}),
    "jax.tree_util": frozenset({"default_registry"}),
    "flax.nnx": frozenset({"display", "var_defaults", "logical_axis_rules"}),
}
"""Public attributes of a `"*"` module that units may not use anyway (besides `GLOBAL_STATE_PREFIXES`)."""
GLOBAL_STATE_PREFIXES = ("set_", "register_", "use_", "enable_", "disable_")
"""Names in `"*"` modules that change process-wide state (flax's graph mode, pytree registries, ...)."""
GLOBAL_STATE_SUFFIXES = ("_p",)
"""jax.lax primitives: units need the functions, not the primitives whose implementations can be redefined."""

OBJECT_ATTRIBUTES_DENIED = frozenset({
    # frames, code objects, generators and tracebacks lead to other modules' globals
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame", "ag_code",
    "ag_await", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace", "tb_frame", "tb_next",
    "co_code", "co_consts", "co_names", "func_globals", "func_code", "im_func", "im_self", "mro",
    # format-string fields read attributes by name at run time
    "format", "format_map",
    # array file and host APIs, numpy's ctypes bridge
    "dump", "dumps", "tofile", "save", "load", "savez", "fromfile", "memmap", "ctypes", "data_as", "shape_as",
    "strides_as", "pure_callback", "io_callback", "callback", "host_callback", "debug_callback",
    # the runtime behind arrays: clients, devices, buffers, every live array of the process
    "addressable_data", "client", "devices", "device", "live_arrays", "live_buffers", "live_executables",
    "unsafe_buffer_pointer", "addressable_shards", "addressable_memories", "delete",
    # ahead-of-time compilation (compiler options write files) and traced programs (source tracebacks)
    "lower", "trace", "compile", "compiler_ir", "runtime_executable", "jaxpr", "eqns", "source_info",
    "traceback", "raw_frames", "as_python_traceback", "get_traceback", "traceback_from_frames",
    # redefining primitives
    "def_impl", "def_abstract_eval", "def_effectful_abstract_eval", "bind",
})
REFUSED_KEYWORDS = frozenset({"compiler_options"})
"""Keyword arguments refused in any call (XLA options such as `xla_dump_to` write files)."""
"""Attribute names rejected on any object, whatever it is."""


@functools.cache
def module(name: str) -> types.ModuleType:
  """The allowed module `name`, imported by trusted code (or an attribute of its parent, like
  `flax.nnx.initializers`, which is no importable module of its own)."""
  try:
    return importlib.import_module(name)
  except ModuleNotFoundError:
    parent, _, attr = name.rpartition(".")
    return getattr(module(parent), attr)


def attribute_allowed(module_name: str, attr: str) -> bool:
  """Whether unit code may use `module_name.attr` (a submodule needs an entry of its own)."""
  allowed = MODULES[module_name]
  qualified = f"{module_name}.{attr}"
  value = getattr(module(module_name), attr, None)
  if isinstance(value, types.ModuleType) or qualified in MODULES:
    return qualified in MODULES and (allowed == "*" or attr in allowed)
  if allowed == "*":
    return (not attr.startswith("_") and attr not in EXCLUDED.get(module_name, ())
            and not attr.startswith(GLOBAL_STATE_PREFIXES) and not attr.endswith(GLOBAL_STATE_SUFFIXES)
            and hasattr(module(module_name), attr))
  return attr in allowed


def resolve(module_name: str, attrs: list[str]) -> tuple[str | None, str | None]:
  """Follows `module_name.attrs...`: (qualified name reached, the first attribute refused or None).

  The walk stops at the first non-module value: attributes of objects are vetted like any object's.
  """
  current = module_name
  for attr in attrs:
    if current not in MODULES:
      return current, None
    if not attribute_allowed(current, attr):
      return current, attr
    current = f"{current}.{attr}"
    if current not in MODULES:
      return current, None
  return current, None
