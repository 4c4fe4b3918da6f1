#!/usr/bin/env python3
"""Checks that every row of docs/reliability.md's test tables names tests that exist.

Every Markdown table of the file whose header has a column named like "test" or "test(s)" is
read; in that column each backticked `Group.Name` is a CppUTest test, TEST(Group, Name), that must
exist in a source file under tests/ (IGNORE_TEST counts as missing: an ignored test asserts
nothing). A row without any test in that column fails too, as does a backticked reference that is
not of the form Group.Name.

Usage: scripts/check_reliability_matrix.py [--doc FILE] [--tests DIR]
Prints how many rows and tests were checked; exits 1 naming each problem, 0 when all is well.
"""

import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE_SUFFIXES = {".cpp", ".cc", ".cxx", ".hpp", ".h"}
TEST_RE = re.compile(r"(?<![A-Za-z0-9_])TEST\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)")
REF_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")
SEPARATOR_CELL_RE = re.compile(r"^:?-+:?$")


def split_row(line):
    """The cells of a Markdown table row: '|' splits, except escaped (\\|) or inside a code span."""
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    cells, cell, i, n = [], [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            cell.append(text[i : i + 2])
            i += 2
            continue
        if c == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            close = text.find("`" * run, i + run)
            # A code span runs to the next run of as many backticks; an unmatched one is text.
            while close != -1 and close + run < n and text[close + run] == "`":
                close = text.find("`" * run, close + run + 1)
            if close == -1:
                cell.append(text[i : i + run])
                i += run
                continue
            cell.append(text[i : close + run])
            i = close + run
            continue
        if c == "|":
            cells.append("".join(cell).strip())
            cell = []
            i += 1
            continue
        cell.append(c)
        i += 1
    cells.append("".join(cell).strip())
    return cells


def code_spans(cell):
    """The contents of the code spans of a cell, trimmed."""
    out, i, n = [], 0, len(cell)
    while i < n:
        if cell[i] == "\\":
            i += 2
            continue
        if cell[i] != "`":
            i += 1
            continue
        run = len(cell[i:]) - len(cell[i:].lstrip("`"))
        close = cell.find("`" * run, i + run)
        if close == -1:
            break
        out.append(cell[i + run : close].strip())
        i = close + run
    return out


def is_table_line(line):
    return line.lstrip().startswith("|")


def is_separator(cells):
    return bool(cells) and all(SEPARATOR_CELL_RE.match(c.replace(" ", "")) for c in cells)


def test_column(header):
    for index, name in enumerate(header):
        words = re.sub(r"[^a-z]+", " ", name.lower()).split()
        if "test" in words or "tests" in words:
            return index
    return None


def tables_with_tests(lines):
    """Yields (line number, header, test column, [(line number, cells)]) for each test table."""
    i = 0
    while i < len(lines):
        if is_table_line(lines[i]) and i + 1 < len(lines) and is_table_line(lines[i + 1]):
            header = split_row(lines[i])
            if is_separator(split_row(lines[i + 1])):
                start = i
                rows = []
                i += 2
                while i < len(lines) and is_table_line(lines[i]):
                    rows.append((i + 1, split_row(lines[i])))
                    i += 1
                column = test_column(header)
                if column is not None:
                    yield start + 1, header, column, rows
                continue
        i += 1


def defined_tests(tests_dir):
    """Every TEST(Group, Name) under tests_dir (comments removed first, so commented-out tests do
    not count; IGNORE_TEST never matches)."""
    found = set()
    for path in sorted(tests_dir.rglob("*")):
        if path.suffix not in SOURCE_SUFFIXES or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        for group, name in TEST_RE.findall(text):
            found.add((group, name))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--doc", type=pathlib.Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument("--tests", type=pathlib.Path, default=ROOT / "tests")
    args = parser.parse_args()

    try:
        lines = args.doc.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        print(f"{args.doc}: cannot read: {e.strerror}", file=sys.stderr)
        return 1
    if not args.tests.is_dir():
        print(f"{args.tests}: not a directory", file=sys.stderr)
        return 1
    defined = defined_tests(args.tests)

    problems = []
    tables = rows_checked = refs_checked = 0
    distinct = set()
    for table_line, header, column, rows in tables_with_tests(lines):
        tables += 1
        for line_no, cells in rows:
            rows_checked += 1
            where = f"{args.doc.name}:{line_no}"
            cell = cells[column] if column < len(cells) else ""
            spans = code_spans(cell)
            if not spans:
                problems.append(f"{where}: row has no test in column \"{header[column]}\"")
                continue
            for span in spans:
                for ref in (s.strip() for s in span.split(",")):
                    if not ref:
                        continue
                    match = REF_RE.match(ref)
                    if not match:
                        problems.append(f"{where}: `{ref}` is not a test name of the form Group.Name")
                        continue
                    refs_checked += 1
                    distinct.add(match.groups())
                    if match.groups() not in defined:
                        problems.append(f"{where}: missing test {ref} (no TEST({match.group(1)}, "
                                        f"{match.group(2)}) under {args.tests})")
    if tables == 0:
        problems.append(f"{args.doc}: no table with a test column")

    print(f"{args.doc.name}: {tables} table(s), {rows_checked} row(s), {refs_checked} test reference(s), "
          f"{len(distinct)} distinct test(s) checked against {len(defined)} tests under {args.tests.name}/")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
