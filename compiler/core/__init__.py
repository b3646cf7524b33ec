"""The bottom layer: immutable dataclasses (`frozen`), source positions (`span`), the user cache
directory (`cachedir`), the garbage-collector policy (`collector`) and when a file's status shows
its next change (`settling`). Imports nothing else from the compiler."""
