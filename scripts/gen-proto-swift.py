"""Writes the Swift value types of Shared/Wire from proto/ (run by scripts/gen-proto, not by hand).

Input: a FileDescriptorSet with source info (protoc --descriptor_set_out --include_source_info
--include_imports). Output: one Swift file per service .proto, each message a struct conforming to
`CBridged` (see Shared/Wire/CBridge.swift), each enum a `WireEnum`. common.proto is skipped:
gen-proto-envelope.py writes its Envelope and Status types (EnvelopeTypes.swift) and the
transport's Envelope codec; the rest of it is written by hand (Envelope.swift, Status.swift,
Health.swift).

Mapping: scalars -> Swift scalars, string -> String, bytes -> [UInt8], message -> Optional,
repeated -> Array, a oneof of one field -> Optional (proto3 optional for protoc-c), a larger
oneof -> a nested Swift enum with one case per field.
"""
import sys
from google.protobuf import descriptor_pb2 as d

SKIP = {"lattice/v1/common.proto"}
F = d.FieldDescriptorProto
SCALARS = {
    F.TYPE_DOUBLE: "Double", F.TYPE_FLOAT: "Float", F.TYPE_INT64: "Int64", F.TYPE_UINT64: "UInt64",
    F.TYPE_INT32: "Int32", F.TYPE_UINT32: "UInt32", F.TYPE_FIXED64: "UInt64", F.TYPE_FIXED32: "UInt32",
    F.TYPE_SFIXED32: "Int32", F.TYPE_SFIXED64: "Int64", F.TYPE_SINT32: "Int32", F.TYPE_SINT64: "Int64",
}
ACRONYMS = {"id": "ID", "ids": "IDs", "json": "JSON", "kv": "KV", "eos": "EOS", "bos": "BOS"}  # Swift spells these in capitals
KEYWORDS = {"in", "is", "as", "default", "internal", "public", "repeat", "return", "self", "Type", "protocol",
            "extension", "func", "var", "let", "class", "struct", "enum", "case", "switch", "where", "while",
            "for", "if", "else", "import", "init", "operator", "subscript", "static", "throws", "try", "catch",
            "nil", "true", "false", "super", "do", "break", "continue", "guard", "defer", "inout", "typealias"}


def camel(snake, upper_first=False):
    parts = [p for p in snake.lower().split("_") if p]
    text = parts[0] + "".join(ACRONYMS.get(p, p.capitalize()) for p in parts[1:])
    text = text[0].upper() + text[1:] if upper_first else text
    return f"`{text}`" if text in KEYWORDS else text


def c_lower(name):
    """protobuf-c's CamelCase -> snake_case for descriptor symbols."""
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0 and not name[i - 1].isupper():
            out += "_"
        out += ch.lower()
    return out


class Gen:
    def __init__(self, fileset):
        self.comments = {}
        for f in fileset.file:
            for loc in f.source_code_info.location:
                text = (loc.leading_comments or loc.trailing_comments).strip()
                if text:
                    self.comments[(f.name, tuple(loc.path))] = text
        self.files = [f for f in fileset.file if f.name.startswith("lattice/") and f.name not in SKIP]
        self.out = []

    def doc(self, fname, path, indent):
        text = self.comments.get((fname, tuple(path)))
        for line in (text.splitlines() if text else []):
            self.out.append(f"{indent}/// {line.strip()}".rstrip())

    def emit(self, line=""):
        self.out.append(line)

    # ---- names ----
    @staticmethod
    def swift_type_name(type_name):  # ".lattice.v1.A.B" -> "A.B"
        return type_name.split(".lattice.v1.")[-1]

    @staticmethod
    def c_type_name(swift_name):
        return "Lattice__V1__" + swift_name.replace(".", "__")

    def field_kind(self, field):
        if field.type in SCALARS:
            return "scalar", SCALARS[field.type]
        return {F.TYPE_BOOL: ("bool", "Bool"), F.TYPE_STRING: ("string", "String"),
                F.TYPE_BYTES: ("bytes", "[UInt8]"),
                F.TYPE_ENUM: ("enum", self.swift_type_name(field.type_name)),
                F.TYPE_MESSAGE: ("message", self.swift_type_name(field.type_name))}[field.type]

    # ---- per-field Swift: (type, default, decode expression, encode statement) ----
    def plain(self, msg, field):
        kind, t = self.field_kind(field)
        name, cf, where = camel(field.name), field.name, f'"{msg}.{field.name}"'
        if field.label == F.LABEL_REPEATED:
            if kind in ("scalar", "string", "message"):
                decode = {"scalar": f"try decodeScalars(c.n_{cf}, c.{cf}, {where})",
                          "string": f"try decodeStrings(c.n_{cf}, c.{cf}, {where})",
                          "message": f"try decodeMessages(c.n_{cf}, c.{cf}, {where})"}[kind]
                encode = {"scalar": "arena.scalars", "string": "arena.strings", "message": "arena.messages"}[kind]
                return f"[{t}]", "[]", decode, f"(c.n_{cf}, c.{cf}) = {encode}({name})"
            sys.exit(f"gen-proto-swift: repeated {kind} field {msg}.{field.name} is not supported yet")
        return {
            "scalar": (t, "0", f"c.{cf}", f"c.{cf} = {name}"),
            "bool": (t, "false", f"c.{cf} != 0", f"c.{cf} = {name} ? 1 : 0"),
            "string": (t, '""', f"stringField(c.{cf})", f"c.{cf} = arena.string({name})"),
            "bytes": (t, "[]", f"bytesField(c.{cf})", f"c.{cf} = arena.bytes({name})"),
            "enum": (t, f"{t}()", f"try decodeEnum(c.{cf}.rawValue, {where})", f"c.{cf} = .init(rawValue: {name}.rawValue)"),
            "message": (f"{t}?", "nil", f"try decodeOptional(c.{cf})", f"c.{cf} = arena.message({name})"),
        }[kind]

    def oneof_member(self, msg, field, value):
        """(type, decode expression, encode statements) of one oneof member held in `value`."""
        kind, t = self.field_kind(field)
        cf, where = field.name, f'"{msg}.{field.name}"'
        return t, {
            "scalar": f"c.{cf}", "bool": f"c.{cf} != 0", "string": f"stringField(c.{cf})",
            "bytes": f"bytesField(c.{cf})", "enum": f"try decodeEnum(c.{cf}.rawValue, {where})",
            "message": f"try decodeRequired(c.{cf}, {where})",
        }[kind], {
            "scalar": f"c.{cf} = {value}", "bool": f"c.{cf} = {value} ? 1 : 0",
            "string": f"c.{cf} = arena.string({value})", "bytes": f"c.{cf} = arena.bytes({value})",
            "enum": f"c.{cf} = .init(rawValue: {value}.rawValue)", "message": f"c.{cf} = arena.message({value})",
        }[kind]

    # ---- enums ----
    def enum(self, fname, enum, swift_name, path, indent):
        values = list(enum.value)
        names = [v.name for v in values]
        prefix = enum_prefix(names)
        self.doc(fname, path, indent)
        short = swift_name.split(".")[-1]
        self.emit(f"{indent}public enum {short}: UInt32, WireEnum {{")
        for j, v in enumerate(values):
            self.doc(fname, path + [2, j], indent + "    ")
            self.emit(f"{indent}    case {camel(v.name[len(prefix):])} = {v.number}")
        self.emit(f"{indent}    public init() {{ self = .{camel(values[0].name[len(prefix):])} }}")
        self.emit(f"{indent}}}")

    # ---- messages ----
    def message(self, fname, msg, path):
        name = msg.name
        props = []  # (swift name, type, default, path)
        decodes, encodes, nested = [], [], []
        oneof_fields = {}
        for i, field in enumerate(msg.field):
            if field.HasField("oneof_index"):
                oneof_fields.setdefault(field.oneof_index, []).append((i, field))
        seen_oneofs = set()
        for i, field in enumerate(msg.field):
            if field.HasField("oneof_index"):
                index = field.oneof_index
                if index in seen_oneofs:
                    continue
                seen_oneofs.add(index)
                members = oneof_fields[index]
                case = msg.oneof_decl[index].name + "_case"
                if len(members) == 1:  # proto3 optional, spelled as a one-field oneof
                    j, member = members[0]
                    prop = camel(member.name)
                    t, dec, enc = self.oneof_member(name, member, "value")
                    props.append((prop, f"{t}?", "nil", path + [2, j]))
                    decodes.append((prop, f"c.{case}.rawValue == {member.number} ? {dec} : nil"))
                    encodes.append(f"if let value = {prop} {{ c.{case} = .init(rawValue: {member.number}); {enc} }}")
                    continue
                oneof = msg.oneof_decl[index].name
                enum_name = camel(oneof, upper_first=True)
                prop = camel(oneof)
                props.append((prop, f"{enum_name}?", "nil", path + [8, index]))
                cases, dec_cases, enc_cases = [], [], []
                for j, member in members:
                    t, dec, enc = self.oneof_member(name, member, "value")
                    cases.append((j, camel(member.name), t))
                    dec_cases.append(f"case {member.number}: .{camel(member.name)}({dec})")
                    enc_cases.append(f"case .{camel(member.name)}(let value)?: c.{case} = .init(rawValue: {member.number}); {enc}")
                nested.append((enum_name, cases))
                decodes.append((prop, "try {\n                switch c.%s.rawValue {\n%s\n                default: nil\n                }\n            }()" % (
                    case, "\n".join("                " + line for line in dec_cases))))
                encodes.append("switch %s {\n%s\n        case nil: break\n        }" % (
                    prop, "\n".join("        " + line for line in enc_cases)))
                continue
            t, default, dec, enc = self.plain(name, field)
            prop = camel(field.name)
            props.append((prop, t, default, path + [2, i]))
            decodes.append((prop, dec))
            encodes.append(enc)

        self.doc(fname, path, "")
        self.emit(f"public struct {name}: Sendable, Equatable {{")
        for k, enum in enumerate(msg.enum_type):
            self.enum(fname, enum, f"{name}.{enum.name}", path + [4, k], "    ")
            self.emit()
        for enum_name, cases in nested:
            self.emit(f"    public enum {enum_name}: Sendable, Equatable {{")
            for j, case_name, t in cases:
                self.doc(fname, path + [2, j], "        ")
                self.emit(f"        case {case_name}({t})")
            self.emit("    }")
            self.emit()
        for prop, t, _, p in props:
            self.doc(fname, p, "    ")
            self.emit(f"    public var {prop}: {t}")
        if props:
            self.emit()
            args = ", ".join(f"{prop}: {t} = {default}" for prop, t, default, _ in props)
            self.emit(f"    public init({args}) {{")
            for prop, *_ in props:
                self.emit(f"        self.{prop.strip('`')} = {prop}")
            self.emit("    }")
        else:
            self.emit("    public init() {}")
        self.emit("}")
        self.emit()
        c_name = self.c_type_name(name)
        self.emit(f"extension {name}: CBridged {{")
        self.emit(f"    public static var descriptor: ProtobufCMessageDescriptor {{ lattice__v1__{c_lower(name)}__descriptor }}")
        self.emit()
        if decodes:
            self.emit(f"    public init(c: {c_name}) throws {{")
            self.emit("        self.init(")
            for k, (prop, expr) in enumerate(decodes):
                sep = "," if k < len(decodes) - 1 else ")"
                self.emit(f"            {prop.strip('`')}: {expr}{sep}")
            self.emit("    }")
            self.emit()
            self.emit(f"    public func fill(_ c: inout {c_name}, _ arena: WireArena) {{")
            for line in encodes:
                self.emit(f"        {line}")
            self.emit("    }")
        else:
            self.emit(f"    public init(c: {c_name}) throws {{ self.init() }}")
            self.emit(f"    public func fill(_ c: inout {c_name}, _ arena: WireArena) {{}}")
        self.emit("}")
        self.emit()

    def file(self, f):
        self.out = []
        self.emit(f"// Generated by scripts/gen-proto from proto/{f.name}. Do not edit.")
        self.emit("import CProtobufC")
        self.emit("import WireC")
        self.emit()
        for i, enum in enumerate(f.enum_type):
            self.enum(f.name, enum, enum.name, [5, i], "")
            self.emit()
        for i, msg in enumerate(f.message_type):
            if msg.nested_type:
                sys.exit(f"gen-proto-swift: nested message in {msg.name} is not supported yet")
            self.message(f.name, msg, [4, i])
        base = swift_file_name(f.name).removesuffix(".swift")
        self.emit("extension WireCatalog {")
        self.emit(f"    /// Every message of {f.name}.")
        self.emit(f"    public static var {base[0].lower() + base[1:]}: [any CBridged.Type] {{")
        self.emit("        [" + ", ".join(f"{m.name}.self" for m in f.message_type) + "]")
        self.emit("    }")
        self.emit("}")
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(self.out) + "\n"


def enum_prefix(names):
    """The SCREAMING_PREFIX_ every value shares (PLACEMENT_METHOD_), or "" when they do not."""
    first = names[0].split("_")
    for n in range(len(first) - 1, 0, -1):
        prefix = "_".join(first[:n]) + "_"
        if all(v.startswith(prefix) and len(v) > len(prefix) and not v[len(prefix)].isdigit() for v in names):
            return prefix
    return ""


def swift_file_name(proto_name):
    base = proto_name.rsplit("/", 1)[-1].removesuffix(".proto")
    return "".join(p.capitalize() for p in base.split("_")) + ".swift"


def main():
    descriptor_set, out_dir = sys.argv[1], sys.argv[2]
    fileset = d.FileDescriptorSet()
    with open(descriptor_set, "rb") as handle:
        fileset.ParseFromString(handle.read())
    gen = Gen(fileset)
    for f in gen.files:
        with open(f"{out_dir}/{swift_file_name(f.name)}", "w") as handle:
            handle.write(gen.file(f))
        print(swift_file_name(f.name))


if __name__ == "__main__":
    main()
