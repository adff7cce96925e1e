import Foundation
import HTTPTypes
import TestSupport
import Yams

/// Checks a response the tests received against what `openapi.yaml` says that route answers
/// with that status: the status must be documented and the JSON body must match its schema.
/// A JSON Schema subset, exactly what the document uses: `$ref`, `type` (one or a list),
/// `properties`, `required`, `additionalProperties`, `items`, `minItems`/`maxItems`, `enum`,
/// `const`, `oneOf`/`anyOf`/`allOf`, `minimum`/`maximum`, `minLength`/`maxLength`.
struct OpenAPIResponseValidator: Sendable {
    private let root: [String: any Sendable]

    static let shared: OpenAPIResponseValidator? = {
        guard let text = try? String(contentsOfFile: Repository.path("openapi.yaml"), encoding: .utf8),
            let root = (try? Yams.load(yaml: text)) as? [String: Any]
        else { return nil }
        return OpenAPIResponseValidator(root: sendable(root) as? [String: any Sendable] ?? [:])
    }()

    private static func sendable(_ value: Any) -> any Sendable {
        switch value {
        case let dictionary as [String: Any]: return dictionary.mapValues { sendable($0) }
        case let array as [Any]: return array.map { sendable($0) }
        case let string as String: return string
        case let bool as Bool: return bool
        case let int as Int: return int
        case let double as Double: return double
        case is NSNull: return JSONNull()
        default: return "\(value)"
        }
    }

    /// Problems with `body` as the answer of `method path` with `status`; empty when it conforms.
    func problems(method: HTTPRequest.Method, path: String, status: Int, body: Data, contentType: String? = nil)
        -> [String]
    {
        let rawPath = String(path.split(separator: "?", maxSplits: 1).first ?? "")
        // A path or method the document does not have (a test of 404 or 405) has nothing to check.
        guard let (template, item) = operation(for: rawPath),
            let operation = item[method.rawValue.lowercased()] as? [String: any Sendable]
        else { return [] }
        let responses = operation["responses"] as? [String: any Sendable] ?? [:]
        let statusClass = "\(status / 100)XX"
        guard let declared = responses[String(status)] ?? responses[statusClass] ?? responses["default"] else {
            return ["\(method) \(template) answered \(status), which openapi.yaml does not list"]
        }
        let response = resolve(declared)
        guard let content = response["content"] as? [String: any Sendable] else { return [] }
        // An answer in another media type (CSV) must be one the document lists; its text is not checked here.
        if let type = contentType?.split(separator: ";").first.map(String.init), type != "application/json" {
            return content[type] == nil ? ["\(method) \(template) \(status): \(type) is not documented"] : []
        }
        guard let media = content["application/json"] as? [String: any Sendable], let schema = media["schema"] else {
            return [] // CSV and other media types: not JSON, not checked here
        }
        guard let json = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else {
            return ["\(method) \(template) \(status): the body is not JSON"]
        }
        return validate(json, against: schema, at: "\(method) \(template) \(status) $")
    }

    /// Problems with `value` as an instance of the component schema `name`.
    func problems(of value: Any, asSchema name: String) -> [String] {
        validate(value, against: ["$ref": "#/components/schemas/\(name)"] as [String: any Sendable], at: name)
    }

    /// Problems with `body` as an outgoing webhook: the document's `webhooks` entry whose `type`
    /// enum lists the body's type, with its request body schema.
    func problems(ofWebhook body: Data) -> [String] {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let type = json["type"] as? String
        else { return ["a webhook body that is not a JSON object with a type"] }
        let hooks = root["webhooks"] as? [String: any Sendable] ?? [:]
        for (name, item) in hooks {
            guard let post = (item as? [String: any Sendable])?["post"] as? [String: any Sendable],
                let content = (post["requestBody"] as? [String: any Sendable])?["content"] as? [String: any Sendable],
                let schema = (content["application/json"] as? [String: any Sendable])?["schema"],
                let properties = resolve(schema)["properties"] as? [String: any Sendable],
                let types = resolve(properties["type"] ?? [String: any Sendable]())["enum"] as? [any Sendable],
                types.contains(where: { ($0 as? String) == type })
            else { continue }
            return validate(json, against: schema, at: "webhook \(name) (\(type)) $")
        }
        return ["openapi.yaml documents no webhook for \(type)"]
    }

    /// The path template matching `path` (literal segments first, then `{parameters}`).
    private func operation(for path: String) -> (String, [String: any Sendable])? {
        let paths = root["paths"] as? [String: any Sendable] ?? [:]
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        let candidates = paths.keys.filter { template in
            let parts = template.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == segments.count
                && zip(parts, segments).allSatisfy { part, segment in
                    (part.hasPrefix("{") && part.hasSuffix("}") && !segment.isEmpty) || part == segment
                }
        }
        // The most literal template wins (`/v1/me/sessions` over `/v1/me/{x}`).
        guard let best = candidates.max(by: { $0.filter { $0 == "{" }.count > $1.filter { $0 == "{" }.count })
        else { return nil }
        return (best, paths[best] as? [String: any Sendable] ?? [:])
    }

    private func resolve(_ node: any Sendable) -> [String: any Sendable] {
        guard let object = node as? [String: any Sendable] else { return [:] }
        guard let reference = object["$ref"] as? String, reference.hasPrefix("#/") else { return object }
        var current: (any Sendable)? = root
        for part in reference.dropFirst(2).split(separator: "/") {
            current = (current as? [String: any Sendable])?[String(part)]
        }
        return resolve(current ?? [String: any Sendable]())
    }

    /// `documented`: the properties every part of an enclosing `allOf` declares, so a member
    /// declared by one part is not undocumented for another.
    private func validate(
        _ value: Any, against node: any Sendable, at path: String, documented: Set<String>? = nil
    ) -> [String] {
        let schema = resolve(node)
        var problems: [String] = []
        if let types = (schema["type"] as? String).map({ [$0] })
            ?? (schema["type"] as? [any Sendable])?.compactMap({
                $0 as? String
            })
        {
            guard types.contains(where: { Self.matches(value, type: $0) }) else {
                return ["\(path): expected \(types.joined(separator: " or ")), got \(Self.describe(value))"]
            }
        }
        if let options = schema["enum"] as? [any Sendable], !options.contains(where: { Self.equal($0, value) }) {
            problems.append("\(path): \(value) is not one of \(options)")
        }
        if let constant = schema["const"], !Self.equal(constant, value) {
            problems.append("\(path): expected \(constant)")
        }
        var known = Set((schema["properties"] as? [String: any Sendable] ?? [:]).keys)
        if let all = schema["allOf"] as? [any Sendable] {
            for part in all { known.formUnion((resolve(part)["properties"] as? [String: any Sendable] ?? [:]).keys) }
            for part in all { problems += validate(value, against: part, at: path, documented: known) }
        }
        known.formUnion(documented ?? [])
        for key in ["oneOf", "anyOf"] {
            guard let options = schema[key] as? [any Sendable] else { continue }
            let passing = options.filter { validate(value, against: $0, at: path).isEmpty }.count
            if passing == 0 || (key == "oneOf" && passing > 1) {
                problems.append("\(path): matches \(passing) of the \(key) schemas")
            }
        }
        if let object = value as? [String: Any] {
            let properties = schema["properties"] as? [String: any Sendable] ?? [:]
            for name in schema["required"] as? [any Sendable] ?? [] {
                if let name = name as? String, object[name] == nil { problems.append("\(path).\(name): missing") }
            }
            for (name, member) in object {
                if let property = properties[name] {
                    problems += validate(member, against: property, at: "\(path).\(name)")
                } else if let additional = schema["additionalProperties"] {
                    if let allowed = additional as? Bool {
                        if !allowed { problems.append("\(path).\(name): not allowed") }
                    } else {
                        problems += validate(member, against: additional, at: "\(path).\(name)")
                    }
                } else if !properties.isEmpty && !known.contains(name) {
                    problems.append("\(path).\(name): not documented")
                }
            }
        }
        if let array = value as? [Any], !(value is [String: Any]) {
            if let minimum = schema["minItems"] as? Int, array.count < minimum {
                problems.append("\(path): fewer than \(minimum) items")
            }
            if let maximum = schema["maxItems"] as? Int, array.count > maximum {
                problems.append("\(path): more than \(maximum) items")
            }
            if let items = schema["items"] {
                for (index, element) in array.enumerated() {
                    problems += validate(element, against: items, at: "\(path)[\(index)]")
                }
            }
        }
        if let string = value as? String {
            if let minimum = schema["minLength"] as? Int, string.count < minimum {
                problems.append("\(path): shorter than \(minimum)")
            }
            if let maximum = schema["maxLength"] as? Int, string.count > maximum {
                problems.append("\(path): longer than \(maximum)")
            }
        }
        if let number = value as? NSNumber, !Self.isBool(number) {
            if let minimum = (schema["minimum"] as? Int), number.doubleValue < Double(minimum) {
                problems.append("\(path): below \(minimum)")
            }
            if let maximum = (schema["maximum"] as? Int), number.doubleValue > Double(maximum) {
                problems.append("\(path): above \(maximum)")
            }
        }
        return problems
    }

    /// JSONSerialization gives booleans as NSNumbers of type `c` (and `is Bool` holds for 0 and
    /// 1 too on Linux, so it cannot tell them apart).
    private static func isBool(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    private static func matches(_ value: Any, type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "string": return value is String
        case "boolean": return (value as? NSNumber).map(isBool) ?? false
        case "integer":
            guard let number = value as? NSNumber, !isBool(number) else { return false }
            return number.doubleValue.rounded() == number.doubleValue
        case "number": return (value as? NSNumber).map { !isBool($0) } ?? false
        case "array": return value is [Any]
        case "object": return value is [String: Any]
        default: return false
        }
    }

    private static func equal(_ expected: any Sendable, _ value: Any) -> Bool {
        switch (expected, value) {
        case (is JSONNull, is NSNull): return true
        case (let a as String, let b as String): return a == b
        case (let a as Int, let b as NSNumber): return !isBool(b) && b.intValue == a
        case (let a as Bool, let b as NSNumber): return isBool(b) && b.boolValue == a
        default: return false
        }
    }

    private static func describe(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case is String: return "a string"
        case let number as NSNumber: return isBool(number) ? "a boolean" : "a number"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "\(type(of: value))"
        }
    }
}

/// YAML's `null` in an `enum` list.
private struct JSONNull: Sendable {}
