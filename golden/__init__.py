"""Bit-exact NumPy models: the specification of nnrtl's number formats and operators.

`golden.formats` defines every number format once; `golden.ops` defines operators on codes;
`golden.checks` validates integer, choice and bool parameters with uniform messages.
Only NumPy and the standard library are imported here.
"""
