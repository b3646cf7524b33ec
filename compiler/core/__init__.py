"""The bottom layer: immutable dataclasses (`frozen`), source positions (`span`), the user cache
directory (`cachedir`) and the garbage-collector policy (`collector`). Imports nothing else from
the compiler."""
