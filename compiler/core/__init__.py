"""The bottom layer: immutable dataclasses (`frozen`), source positions (`span`) and the user cache
directory (`cachedir`). Imports nothing else from the compiler."""
