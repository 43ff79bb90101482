"""The support policy as pure functions and value objects: no I/O, nothing of the project imported.

Every number comes from `Terms`; every rule names the seed clause it comes from.
"""
