import Foundation
import TollgateCore
import Yams

/// `null` in a request body is accepted only where the document allows it (`type: [X, "null"]`):
/// elsewhere Swift's decoding would quietly read it as an absent field, and the server would
/// accept what the document calls invalid. The allowed names are read from the bundled
/// `openapi.yaml`, so the two cannot drift apart.
enum RequestNulls {
    /// Per operation (`POST /v1/consume`): the body's property names, and those that admit null.
    struct Fields: Equatable {
        var known: Set<String> = []
        var nullable: Set<String> = []
    }

    static let operations: [String: Fields] = DocsRoutes.bundled.map { fields(in: $0.document) } ?? [:]

    /// Refuses the first null at a field of the operation's body that the document does not
    /// allow to be null (unknown fields are ignored, as decoding ignores them). Bodies without
    /// the bytes `null` (nearly all) are not parsed twice.
    static func check(_ data: Data, method: String, endpoint: String?) throws {
        guard data.range(of: Data("null".utf8)) != nil, let endpoint, let fields = operations["\(method) \(endpoint)"],
            let json = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        else { return }
        if let field = firstRefusedNull(in: json, path: "", fields: fields) {
            throw DomainError.invalidField(field, "must not be null: omit the field instead")
        }
    }

    private static func firstRefusedNull(in value: Any, path: String, fields: Fields) -> String? {
        if let object = value as? [String: Any] {
            for (key, child) in object.sorted(by: { $0.key < $1.key }) where fields.known.contains(key) {
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if child is NSNull {
                    if !fields.nullable.contains(key) { return childPath }
                } else if let found = firstRefusedNull(in: child, path: childPath, fields: fields) {
                    return found
                }
            }
        } else if let array = value as? [Any] {
            for (index, child) in array.enumerated() {
                if let found = firstRefusedNull(in: child, path: "\(path)[\(index)]", fields: fields) { return found }
            }
        }
        return nil
    }

    /// Each operation's body fields (through `$ref`s, nested objects and arrays), keyed as
    /// `METHOD /path/{template}` — the router's `endpointPath` for the route.
    static func fields(in yaml: String) -> [String: Fields] {
        guard let root = (try? Yams.load(yaml: yaml)) as? [String: Any] else { return [:] }
        let schemas = ((root["components"] as? [String: Any])?["schemas"] as? [String: Any]) ?? [:]
        func resolve(_ schema: Any?) -> [String: Any]? {
            guard let schema = schema as? [String: Any] else { return nil }
            if let ref = schema["$ref"] as? String, let name = ref.split(separator: "/").last {
                return resolve(schemas[String(name)])
            }
            return schema
        }
        func alternatives(_ schema: [String: Any]) -> [Any] {
            (schema["anyOf"] as? [Any] ?? []) + (schema["oneOf"] as? [Any] ?? []) + (schema["allOf"] as? [Any] ?? [])
        }
        func admitsNull(_ schema: Any?) -> Bool {
            guard let schema = resolve(schema) else { return false }
            if let type = schema["type"] as? String { return type == "null" }
            if let types = schema["type"] as? [Any] { return types.contains { $0 as? String == "null" } }
            return alternatives(schema).contains(where: admitsNull)
        }
        func visit(_ schema: Any?, into fields: inout Fields, depth: Int = 0) {
            guard depth < 16, let schema = resolve(schema) else { return }
            for (name, property) in schema["properties"] as? [String: Any] ?? [:] {
                fields.known.insert(name)
                if admitsNull(property) { fields.nullable.insert(name) }
                visit(property, into: &fields, depth: depth + 1)
            }
            visit(schema["items"], into: &fields, depth: depth + 1)
            visit(schema["additionalProperties"], into: &fields, depth: depth + 1)
            for alternative in alternatives(schema) { visit(alternative, into: &fields, depth: depth + 1) }
        }
        var operations: [String: Fields] = [:]
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            for (method, operation) in item as? [String: Any] ?? [:] {
                let body = (operation as? [String: Any])?["requestBody"] as? [String: Any]
                let content = body?["content"] as? [String: Any]
                guard let schema = (content?["application/json"] as? [String: Any])?["schema"] else { continue }
                var fields = Fields()
                visit(schema, into: &fields)
                operations["\(method.uppercased()) \(path)"] = fields
            }
        }
        return operations
    }
}
