"""Completion items and signature help, as the protocol shows them.

Input: the symbol table's answers (`Completion`s with the range of the partial word
they replace; a `Signature`). Output: `lsp.CompletionItem`s and `lsp.SignatureHelp`.
What may be typed where is the compiler's to say (`gop.compiler.semantic.symbols`).

Invariants: pure conversions; nothing here reads the text or knows the language.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from gop.compiler.semantic.symbols import Completion, Signature

_KINDS = {
    "keyword": lsp.CompletionItemKind.Keyword, "property": lsp.CompletionItemKind.Property,
    "field": lsp.CompletionItemKind.Field, "enum": lsp.CompletionItemKind.EnumMember,
    "function": lsp.CompletionItemKind.Function, "variable": lsp.CompletionItemKind.Variable,
    "class": lsp.CompletionItemKind.Class, "reference": lsp.CompletionItemKind.Reference,
    "struct": lsp.CompletionItemKind.Struct, "type": lsp.CompletionItemKind.TypeParameter,
    "module": lsp.CompletionItemKind.Module,
}


def _markdown(text: str | None) -> lsp.MarkupContent | None:
    return lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text) if text else None


def item(completion: Completion, word_range: lsp.Range) -> lsp.CompletionItem:
    return lsp.CompletionItem(
        label=completion.label, kind=_KINDS[completion.kind], detail=completion.detail,
        documentation=_markdown(completion.doc),
        text_edit=lsp.TextEdit(range=word_range, new_text=completion.insert),
        sort_text=completion.sort,
    )


def signature_help(signature: Signature) -> lsp.SignatureHelp:
    names = [name for name, _ in signature.parameters]
    label = f"{signature.function}({', '.join(f'{p} = ...' if i else p for i, p in enumerate(names))})"
    return lsp.SignatureHelp(
        signatures=[lsp.SignatureInformation(
            label=label,
            documentation=_markdown(signature.doc),
            parameters=[lsp.ParameterInformation(label=p, documentation=d) for p, d in signature.parameters],
        )],
        active_signature=0,
        active_parameter=signature.active,
    )
