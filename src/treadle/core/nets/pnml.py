"""PNML (ISO/IEC 15909-2) for place/transition nets, with the standard library's ElementTree.

What the standard P/T grammar cannot say (reset arcs, guards, steps, the final marking) is
written in ``<toolspecific tool="treadle">`` elements, which the standard lets every tool
add and requires other tools to ignore. On input, reset arcs are also recognised in the
``<type value="reset"/>`` form some editors write.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator

from treadle import errors
from treadle.core.nets import model

NAMESPACE = "http://www.pnml.org/version-2009/grammar/pnml"
PTNET = "http://www.pnml.org/version-2009/grammar/ptnet"
TOOL = "treadle"
TOOL_VERSION = "1"


def _local(tag: str) -> str:
    """A tag without its namespace: files in the wild use the 2009 namespace, or none."""
    return tag.rpartition("}")[2]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element: ET.Element, name: str) -> str | None:
    """The ``<text>`` of child ``name`` (``<initialMarking><text>3</text>``), if any."""
    child = _child(element, name)
    if child is None:
        return None
    text = _child(child, "text")
    return None if text is None or text.text is None else text.text.strip()


def _count(element: ET.Element, name: str, default: int, where: str) -> int:
    raw = _text(element, name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.PnmlError(f"{where}: {name} {raw!r} is not an integer") from None


def _tool(element: ET.Element) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == "toolspecific" and child.get("tool") == TOOL:
            return child
    return None


def _nodes(element: ET.Element) -> Iterator[ET.Element]:
    """Every element under ``element``, pages included, tool-specific data skipped."""
    for child in element:
        if _local(child.tag) != "toolspecific":
            yield child
            yield from _nodes(child)


def _parse(source: str | bytes) -> ET.Element:
    # ``core`` reads no files: callers pass the document's text or bytes.
    if isinstance(source, str) and not source.lstrip().startswith("<"):
        raise errors.PnmlError(
            "a PNML document starts with '<': pass the file's contents "
            "(for example Path(name).read_bytes()), not its name"
        )
    try:
        return ET.fromstring(source)
    except ET.ParseError as exc:
        raise errors.PnmlError(f"not well-formed XML: {exc}") from exc


def read(source: str | bytes) -> model.Net:
    """The first net of a PNML document (text, bytes, or the path of a file)."""
    root = _parse(source)
    net = root if _local(root.tag) == "net" else _child(root, "net")
    if net is None:
        raise errors.PnmlError("no <net> element: is this a PNML document?")
    kind = net.get("type", PTNET)
    if not kind.rstrip("/").endswith("ptnet"):
        raise errors.PnmlError(
            f"net type {kind!r} is not a place/transition net; only {PTNET} is supported"
        )
    name = net.get("id") or "net"
    places: list[str] = []
    initial: dict[str, int] = {}
    transitions: dict[str, ET.Element] = {}
    references: dict[str, str] = {}
    arcs: list[ET.Element] = []
    for element in _nodes(net):
        tag, node = _local(element.tag), element.get("id")
        if tag in ("place", "transition") and not node:
            raise errors.PnmlError(f"a <{tag}> has no id")
        if tag == "place" and node:
            places.append(node)
            tokens = _count(element, "initialMarking", 0, f"place {node!r}")
            if tokens:
                initial[node] = tokens
        elif tag == "transition" and node:
            transitions[node] = element
        elif tag in ("referencePlace", "referenceTransition") and node:
            references[node] = element.get("ref", "")
        elif tag == "arc":
            arcs.append(element)

    def resolve(node: str) -> str:
        seen = set()
        while node in references and node not in seen:
            seen.add(node)
            node = references[node]
        return node

    place_set = set(places)
    inputs: dict[str, dict[str, int]] = defaultdict(dict)
    outputs: dict[str, dict[str, int]] = defaultdict(dict)
    resets: dict[str, set[str]] = defaultdict(set)
    for arc in arcs:
        where = f"arc {arc.get('id')!r}"
        source_id, target_id = resolve(arc.get("source", "")), resolve(arc.get("target", ""))
        weight = _count(arc, "inscription", 1, where)
        if _is_reset(arc):
            if source_id not in place_set or target_id not in transitions:
                raise errors.PnmlError(f"{where}: a reset arc goes from a place to a transition")
            resets[target_id].add(source_id)
        elif source_id in place_set and target_id in transitions:
            weights = inputs[target_id]
            weights[source_id] = weights.get(source_id, 0) + weight  # parallel arcs add up
        elif source_id in transitions and target_id in place_set:
            weights = outputs[source_id]
            weights[target_id] = weights.get(target_id, 0) + weight
        else:
            raise errors.PnmlError(
                f"{where} must join a place and a transition, not {source_id!r} and {target_id!r}"
            )
    built = []
    for node, element in transitions.items():
        tool = _tool(element)
        guard = step = None
        if tool is not None:
            guard = _plain(tool, "guard")
            step = _plain(tool, "step")
        built.append(
            model.Transition(
                name=node,
                inputs=inputs[node],
                outputs=outputs[node],
                resets=frozenset(resets[node]),
                guard=guard,
                step=step,
            )
        )
    return model.Net(
        name=name,
        places=tuple(places),
        transitions=tuple(built),
        initial=initial,
        final=_final(net),
    )


def _plain(element: ET.Element, name: str) -> str | None:
    child = _child(element, name)
    return None if child is None or not child.text else child.text.strip()


def _is_reset(arc: ET.Element) -> bool:
    kind = _child(arc, "type")
    if kind is not None and (kind.get("value") == "reset" or _plain(kind, "text") == "reset"):
        return True
    tool = _tool(arc)
    return tool is not None and _child(tool, "reset") is not None


def _final(net: ET.Element) -> dict[str, int] | None:
    tool = _tool(net)
    final = None if tool is None else _child(tool, "finalMarking")
    if final is None:
        return None
    marking: dict[str, int] = {}
    for place in final:
        ref, text = place.get("idref"), (place.text or "").strip()
        if _local(place.tag) != "place" or not ref or not text.isdigit():
            raise errors.PnmlError('finalMarking holds <place idref="...">count</place> entries')
        marking[ref] = int(text)
    return marking


def write(net: model.Net) -> str:
    """``net`` as a PNML document string."""
    ET.register_namespace("", NAMESPACE)

    def sub(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
        return ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attributes)

    def labelled(parent: ET.Element, tag: str, text: str) -> None:
        sub(sub(parent, tag), "text").text = text

    root = ET.Element(f"{{{NAMESPACE}}}pnml")
    element = sub(root, "net", id=net.name, type=PTNET)
    labelled(element, "name", net.name)
    if net.final is not None:
        final = sub(sub(element, "toolspecific", tool=TOOL, version=TOOL_VERSION), "finalMarking")
        for place, count in net.final.items():
            sub(final, "place", idref=place).text = str(count)
    page = sub(element, "page", id="page0")
    for place in net.places:
        node = sub(page, "place", id=place)
        labelled(node, "name", place)
        if net.initial.get(place):
            labelled(node, "initialMarking", str(net.initial[place]))
    for transition in net.transitions:
        node = sub(page, "transition", id=transition.name)
        labelled(node, "name", transition.name)
        if transition.guard is not None or transition.step is not None:
            tool = sub(node, "toolspecific", tool=TOOL, version=TOOL_VERSION)
            if transition.step is not None:
                sub(tool, "step").text = transition.step
            if transition.guard is not None:
                sub(tool, "guard").text = transition.guard
    number = 0
    for transition in net.transitions:
        arcs = [(p, transition.name, w) for p, w in transition.inputs.items()]
        arcs += [(transition.name, p, w) for p, w in transition.outputs.items()]
        for source, target, weight in arcs:
            number += 1
            arc = sub(page, "arc", id=f"a{number}", source=source, target=target)
            if weight != 1:
                labelled(arc, "inscription", str(weight))
        for place in sorted(transition.resets):
            number += 1
            arc = sub(page, "arc", id=f"a{number}", source=place, target=transition.name)
            sub(sub(arc, "toolspecific", tool=TOOL, version=TOOL_VERSION), "reset")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
