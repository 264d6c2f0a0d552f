# Vendored from packaging 26.3 (packaging/specifiers.py, `Specifier._specifier_regex_str`), which is
# dual licensed under the terms of the Apache License, Version 2.0, and the BSD License (LICENSE*
# beside this file). Unchanged.
from __future__ import annotations

SPECIFIER_REGEX_STR = r"""
    (?:
        (?:
            # The identity operators allow for an escape hatch that will
            # do an exact string match of the version you wish to install.
            # This will not be parsed by PEP 440 and we cannot determine
            # any semantic meaning from it. This operator is discouraged
            # but included entirely as an escape hatch.
            ===  # Only match for the identity operator
            \s*
            [^\s;)]*  # The arbitrary version can be just about anything,
                      # we match everything except for whitespace, a
                      # semi-colon for marker support, and a closing paren
                      # since versions can be enclosed in them.
        )
        |
        (?:
            # The (non)equality operators allow for wild card and local
            # versions to be specified so we have to define these two
            # operators separately to enable that.
            (?:==|!=)            # Only match for equals and not equals

            \s*
            v?
            (?:[0-9]+!)?          # epoch
            [0-9]+(?:\.[0-9]+)*   # release

            # You cannot use a wild card and a pre-release, post-release, a dev or
            # local version together so group them with a | and make them optional.
            (?:
                \.\*  # Wild card syntax of .*
                |
                (?a:                                  # pre release
                    [-_\.]?
                    (alpha|beta|preview|pre|a|b|c|rc)
                    [-_\.]?
                    [0-9]*
                )?
                (?a:                                  # post release
                    (?:-[0-9]+)|(?:[-_\.]?(post|rev|r)[-_\.]?[0-9]*)
                )?
                (?a:[-_\.]?dev[-_\.]?[0-9]*)?         # dev release
                (?a:\+[a-z0-9]+(?:[-_\.][a-z0-9]+)*)? # local
            )?
        )
        |
        (?:
            # The compatible operator requires at least two digits in the
            # release segment.
            (?:~=)               # Only match for the compatible operator

            \s*
            v?
            (?:[0-9]+!)?          # epoch
            [0-9]+(?:\.[0-9]+)+   # release  (We have a + instead of a *)
            (?:                   # pre release
                [-_\.]?
                (alpha|beta|preview|pre|a|b|c|rc)
                [-_\.]?
                [0-9]*
            )?
            (?:                                   # post release
                (?:-[0-9]+)|(?:[-_\.]?(post|rev|r)[-_\.]?[0-9]*)
            )?
            (?:[-_\.]?dev[-_\.]?[0-9]*)?          # dev release
        )
        |
        (?:
            # All other operators only allow a sub set of what the
            # (non)equality operators do. Specifically they do not allow
            # local versions to be specified nor do they allow the prefix
            # matching wild cards.
            (?:<=|>=|<|>)

            \s*
            v?
            (?:[0-9]+!)?          # epoch
            [0-9]+(?:\.[0-9]+)*   # release
            (?a:                   # pre release
                [-_\.]?
                (alpha|beta|preview|pre|a|b|c|rc)
                [-_\.]?
                [0-9]*
            )?
            (?a:                                   # post release
                (?:-[0-9]+)|(?:[-_\.]?(post|rev|r)[-_\.]?[0-9]*)
            )?
            (?a:[-_\.]?dev[-_\.]?[0-9]*)?          # dev release
        )
    )
    """
