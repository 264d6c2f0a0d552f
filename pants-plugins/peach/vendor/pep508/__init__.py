"""PEP 508's grammar as a current `packaging` implements it, vendored from packaging 26.3.

The plugin runs inside Pants 2.17, which ships packaging 21.3: its pyparsing grammar accepts
strings a current packaging rejects (`==1.2.3.post4.*`, `'3.6'inpython_version`) and rejects some
it accepts (`(a)and(b)` without spaces). peach parses dependency strings with this copy of the
current handwritten parser instead, so it reads them as uv and current tools do. Only the
tokenizer, the parser and the specifier regex are copied; see the header of each file.
"""
from ._parser import MarkerList, ParsedRequirement, Op, Value, Variable, parse_requirement
from ._tokenizer import ParserSyntaxError

__all__ = ["MarkerList", "Op", "ParsedRequirement", "ParserSyntaxError", "Value", "Variable", "parse_requirement"]
