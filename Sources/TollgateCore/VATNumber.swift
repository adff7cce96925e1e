import Foundation

/// VAT identification numbers: each EU member state's syntax and check digits, and the United
/// Kingdom's, Switzerland's and Norway's, as python-stdnum (`stdnum.eu.vat`, `gb.vat`, `ch.vat`,
/// `no.mva`) checks them — the tests compare the two over generated numbers for every country. A
/// format check, not a registration check (that is VIES or HMRC, online).
public enum VATNumber {
    /// The number's prefix for a member state: its country code, except EL for Greece.
    public static func prefix(of country: String) -> String { country == "GR" ? "EL" : country }

    /// The number compacted (upper case, without spaces, dots, dashes or slashes; with its
    /// prefix) if it is valid for `country`; nil otherwise.
    public static func validated(_ number: String, country: String) -> String? {
        let compact = String(number.uppercased().unicodeScalars.filter { !" .-/".unicodeScalars.contains($0) })
        let prefix = prefix(of: country)
        guard compact.hasPrefix(prefix), let check = checks[country] ?? outsideEU[country] else { return nil }
        let body = Array(compact.dropFirst(prefix.count).utf8)
        guard body.allSatisfy({ $0 < 0x80 }), check(body) else { return nil }
        return compact
    }

    /// Whether numbers of `country` are checked here (else they are a tax id printed as given).
    public static func checks(_ country: String) -> Bool { checks[country] != nil || outsideEU[country] != nil }

    private typealias Body = [UInt8]

    private static let outsideEU: [String: @Sendable (Body) -> Bool] = [
        "GB": british,
        // CHE, nine digits (the last a mod-11 check) and the tax's name in one of the languages.
        "CH": { n in
            guard n.count >= 13, n[0] == ascii("E"), digits(n[1...9]),
                ["MWST", "TVA", "IVA", "TPV"].contains(String(decoding: n[10...], as: UTF8.self))
            else { return false }
            return mod(11 - weighted(n[1...8], [5, 4, 3, 2, 7, 6, 5, 4]), 11) == digit(n[9])
        },
        // An organisation number (nine digits, mod 11) followed by MVA.
        "NO": { n in
            n.count == 12 && digits(n[0..<9]) && String(decoding: n[9...], as: UTF8.self) == "MVA"
                && weighted(n[0..<9], [3, 2, 7, 6, 5, 4, 3, 2, 1]) % 11 == 0
        },
    ]

    /// Nine digits (twelve for a branch) under a mod-97 check, or a government department's
    /// (GD) or health authority's (HA) number.
    private static func british(_ n: Body) -> Bool {
        func authority(_ kind: Body.SubSequence, _ code: Int) -> Bool {
            (kind.elementsEqual("GD".utf8) && code < 500) || (kind.elementsEqual("HA".utf8) && code >= 500)
        }
        switch n.count {
        case 5: return digits(n[2...]) && authority(n[0..<2], value(n[2...]))
        case 11 where ["GD8888", "HA8888"].contains(String(decoding: n[0..<6], as: UTF8.self)):
            return digits(n[6...]) && authority(n[0..<2], value(n[6..<9])) && value(n[6..<9]) % 97 == value(n[9...])
        case 9, 12:
            guard digits(n) else { return false }
            let check = weighted(n[0..<9], [8, 7, 6, 5, 4, 3, 2, 10, 1]) % 97
            return value(n[0..<3]) >= 100 ? [0, 42, 55].contains(check) : check == 0
        default: return false
        }
    }

    private static let checks: [String: @Sendable (Body) -> Bool] = [
        "AT": { n in
            n.count == 9 && n[0] == ascii("U") && digits(n[1...])
                && Int(n[8] - 0x30) == mod(6 - luhnChecksum(n[1..<8]), 10)
        },
        "BE": { n in
            var n = n
            if n.count == 9 { n = [0x30] + n }
            guard n.count == 10, digits(n), value(n) > 0, n[0] == ascii("0") || n[0] == ascii("1") else { return false }
            return (value(n[0..<8]) + value(n[8...])) % 97 == 0
        },
        "BG": { n in
            guard digits(n) else { return false }
            if n.count == 9 { return last(n) == bulgarianLegal(n[0..<8]) }
            guard n.count == 10 else { return false }
            return bulgarianPerson(n) || weighted(n, [21, 19, 17, 13, 11, 9, 7, 3, 1]) % 10 == last(n)
                || mod(11 - weighted(n, [4, 3, 2, 7, 6, 5, 4, 3, 2]), 11) == last(n)
        },
        "CY": { n in
            guard n.count == 9, digits(n[0..<8]), !(n[0] == ascii("1") && n[1] == ascii("2")) else { return false }
            let odd = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21]
            let sum =
                stride(from: 0, to: 8, by: 2).reduce(0) { $0 + odd[digit(n[$1])] }
                + stride(from: 1, to: 8, by: 2).reduce(0) { $0 + digit(n[$1]) }
            return n[8] == ascii("A") + UInt8(sum % 26)
        },
        "CZ": { n in
            guard digits(n) else { return false }
            if n.count == 8 {
                let check = mod(11 - weighted(n, [8, 7, 6, 5, 4, 3, 2]), 11)
                return n[0] != ascii("9") && (check == 0 ? 1 : check) % 10 == last(n)
            }
            if n.count == 9, n[0] == ascii("6") {
                let sum = weighted(n[1...], [8, 7, 6, 5, 4, 3, 2]) % 11
                return mod(8 - mod(10 - sum, 11), 10) == last(n)
            }
            return birthNumber(n)
        },
        "DE": { n in n.count == 9 && digits(n) && n[0] != ascii("0") && mod11_10(n) },
        "DK": { n in
            n.count == 8 && digits(n) && n[0] != ascii("0") && weighted(n, [2, 7, 6, 5, 4, 3, 2, 1]) % 11 == 0
        },
        "EE": { n in n.count == 9 && digits(n) && weighted(n, [3, 7, 1, 3, 7, 1, 3, 7, 1]) % 10 == 0 },
        "ES": spanish,
        "FI": { n in n.count == 8 && digits(n) && weighted(n, [7, 9, 10, 5, 8, 4, 2, 1]) % 11 == 0 },
        "FR": french,
        "GR": { n in
            var n = n
            if n.count == 8 { n = [0x30] + n }
            guard n.count == 9, digits(n) else { return false }
            let sum = n[0..<8].reduce(0) { $0 * 2 + digit($1) }
            return sum * 2 % 11 % 10 == last(n)
        },
        "HR": { n in n.count == 11 && digits(n) && mod11_10(n) },
        "HU": { n in n.count == 8 && digits(n) && weighted(n, [9, 7, 3, 1, 9, 7, 3, 1]) % 10 == 0 },
        "IE": irish,
        "IT": { n in
            guard n.count == 11, digits(n), value(n[0..<7]) != 0 else { return false }
            let province = value(n[7..<10])
            return ((1...100).contains(province) || [120, 121, 888, 999].contains(province)) && luhnChecksum(n) == 0
        },
        "LT": { n in
            guard digits(n), (n.count == 9 && n[7] == ascii("1")) || (n.count == 12 && n[10] == ascii("1"))
            else { return false }
            let body = n.dropLast()
            var check = body.enumerated().reduce(0) { $0 + (1 + $1.offset % 9) * digit($1.element) } % 11
            if check == 10 {
                check = body.enumerated().reduce(0) { $0 + (1 + ($1.offset + 2) % 9) * digit($1.element) }
            }
            return check % 11 % 10 == last(n)
        },
        "LU": { n in n.count == 8 && digits(n) && value(n[0..<6]) % 89 == value(n[6...]) },
        "LV": { n in
            guard n.count == 11, digits(n) else { return false }
            if n[0] > ascii("3") { return weighted(n, [9, 1, 4, 8, 3, 10, 2, 5, 7, 6, 1]) % 11 == 3 }
            let check = (1 + weighted(n, [10, 5, 8, 4, 2, 1, 6, 3, 7, 9])) % 11 % 10
            if n[0] == ascii("3"), n[1] == ascii("2") { return check == last(n) }
            let year = 1800 + digit(n[6]) * 100 + value(n[4..<6])
            return validDate(year: year, month: value(n[2..<4]), day: value(n[0..<2])) && check == last(n)
        },
        "MT": { n in
            n.count == 8 && digits(n) && n[0] != ascii("0") && weighted(n, [3, 4, 6, 7, 8, 9, 10, 1]) % 37 == 0
        },
        "NL": dutch,
        "PL": { n in n.count == 10 && digits(n) && weighted(n, [6, 5, 7, 2, 3, 4, 5, 6, 7, -1]) % 11 == 0 },
        "PT": { n in
            n.count == 9 && digits(n) && n[0] != ascii("0")
                && mod(11 - weighted(n, [9, 8, 7, 6, 5, 4, 3, 2]), 11) % 10 == last(n)
        },
        "RO": romanian,
        "SE": { n in
            n.count == 12 && digits(n) && n[10] == ascii("0") && n[11] == ascii("1") && luhnChecksum(n[0..<10]) == 0
        },
        "SI": { n in
            guard n.count == 8, digits(n), n[0] != ascii("0") else { return false }
            let check = 11 - weighted(n, [8, 7, 6, 5, 4, 3, 2]) % 11
            return (check == 10 ? 0 : check) == last(n)
        },
        "SK": { n in
            guard n.count == 10, digits(n) else { return false }
            if birthNumber(n) { return true }
            return n[0] != ascii("0") && [2, 3, 4, 7, 8, 9].contains(digit(n[2])) && value(n) % 11 == 0
        },
    ]

    // MARK: - States with several kinds of numbers

    private static func spanish(_ n: Body) -> Bool {
        guard n.count == 9, digits(n[1..<8]) else { return false }
        let letters = Array("TRWAGMYFPDXBNJZSQVHLCKE".utf8)
        let first = n[0]
        if [ascii("K"), ascii("L"), ascii("M")].contains(first) { return n[8] == letters[value(n[1..<8]) % 23] }
        if isDigit(first) { return n[8] == letters[value(n[0..<8]) % 23] }
        if let index = [ascii("X"), ascii("Y"), ascii("Z")].firstIndex(of: first) {
            return n[8] == letters[(index * 10_000_000 + value(n[1..<8])) % 23]
        }
        guard Array("ABCDEFGHJNPQRSUVW".utf8).contains(first) else { return false }
        let check = luhnCheckDigit(n[1..<8])
        return n[8] == 0x30 + UInt8(check) || n[8] == Array("JABCDEFGHI".utf8)[check]
    }

    private static func french(_ n: Body) -> Bool {
        let alphabet = Array("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ".utf8)
        guard n.count == 11, let c0 = alphabet.firstIndex(of: n[0]), let c1 = alphabet.firstIndex(of: n[1]),
            digits(n[2...])
        else { return false }
        if !(n[2] == 0x30 && n[3] == 0x30 && n[4] == 0x30), luhnChecksum(n[2...]) != 0 { return false }
        let siren = value(n[2...])
        if c0 < 10, c1 < 10 { return c0 * 10 + c1 == (siren * 100 + 12) % 97 }
        let check = c0 < 10 ? c0 * 24 + c1 - 10 : c0 * 34 + c1 - 100
        return (siren + 1 + check / 11) % 11 == check % 11
    }

    private static func irish(_ n: Body) -> Bool {
        let alphabet = Array("WABCDEFGHIJKLMNOPQRSTUV".utf8)
        guard n.count == 8 || n.count == 9, isDigit(n[0]), digits(n[2..<7]),
            n[7...].allSatisfy({ alphabet.contains($0) })
        else { return false }
        let letter = { (seven: [UInt8], extra: UInt8?) -> UInt8 in
            let sum = weighted(seven, [8, 7, 6, 5, 4, 3, 2]) + 9 * (extra.flatMap { alphabet.firstIndex(of: $0) } ?? 0)
            return alphabet[sum % 23]
        }
        if digits(n[0..<7]) { return n[7] == letter(Array(n[0..<7]), n.count == 9 ? n[8] : nil) }
        guard Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ+*".utf8).contains(n[1]) else { return false }
        return n[7] == letter([0x30] + Array(n[2..<7]) + [n[0]], nil)
    }

    private static func dutch(_ n: Body) -> Bool {
        // stdnum pads the part before the last three characters to nine digits.
        let head = Array(n.dropLast(3))
        let n = [UInt8](repeating: 0x30, count: max(0, 9 - head.count)) + head + Array(n.suffix(3))
        guard n.count == 12, digits(n[0..<9]), value(n[0..<9]) > 0, digits(n[10...]), value(n[10...]) > 0,
            n[9] == ascii("B")
        else { return false }
        let bsn = mod(weighted(n, [9, 8, 7, 6, 5, 4, 3, 2]) - digit(n[8]), 11) == 0
        // ISO 7064 mod 97-10 over "NL" + the number, letters as their base-36 values.
        let remainder = (Array("NL".utf8) + n).reduce(0) { remainder, character in
            let value = isDigit(character) ? digit(character) : Int(character - ascii("A")) + 10
            return (remainder * (value < 10 ? 10 : 100) + value) % 97
        }
        return bsn || remainder == 1
    }

    private static func romanian(_ n: Body) -> Bool {
        guard digits(n) else { return false }
        if n.count == 13 {
            let centuries: [UInt8: Int] = [0x31: 1900, 0x32: 1900, 0x33: 1800, 0x34: 1800, 0x35: 2000, 0x36: 2000]
            let counties = Set((1...48).map { $0 } + [51, 52, 70, 80, 81, 82, 83])
            guard n[0] != ascii("0"), counties.contains(value(n[7..<9])),
                validDate(
                    year: (centuries[n[0]] ?? 1900) + value(n[1..<3]), month: value(n[3..<5]), day: value(n[5..<7]))
            else { return false }
            let check = weighted(n, [2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9]) % 11
            return (check == 10 ? 1 : check) == last(n)
        }
        guard (2...10).contains(n.count), n[0] != ascii("0") else { return false }
        let padded = [UInt8](repeating: 0x30, count: 10 - n.count) + n.dropLast()
        return 10 * weighted(padded, [7, 5, 3, 2, 1, 7, 5, 3, 2]) % 11 % 10 == last(n)
    }

    /// Bulgaria's 10-digit numbers of natural persons (EGN): a birth date, then a check digit.
    private static func bulgarianPerson(_ n: Body) -> Bool {
        var (year, month) = (1900 + value(n[0..<2]), value(n[2..<4]))
        if month > 40 {
            (year, month) = (year + 100, month - 40)
        } else if month > 20 {
            (year, month) = (year - 100, month - 20)
        }
        return validDate(year: year, month: month, day: value(n[4..<6]))
            && weighted(n, [2, 4, 8, 5, 10, 9, 7, 3, 6]) % 11 % 10 == last(n)
    }

    private static func bulgarianLegal(_ n: Body.SubSequence) -> Int {
        var check = n.enumerated().reduce(0) { $0 + ($1.offset + 1) * digit($1.element) } % 11
        if check == 10 { check = n.enumerated().reduce(0) { $0 + ($1.offset + 3) * digit($1.element) } % 11 }
        return check % 10
    }

    /// Czech and Slovak birth numbers (rodné číslo): 9 digits until 1953, then 10 with mod 11.
    private static func birthNumber(_ n: Body) -> Bool {
        guard n.count == 9 || n.count == 10 else { return false }
        var year = 1900 + value(n[0..<2])
        if n.count == 9 {
            if year >= 1980 { year -= 100 }
            if year > 1953 { return false }
        } else if year < 1954 {
            year += 100
        }
        guard validDate(year: year, month: value(n[2..<4]) % 50 % 20, day: value(n[4..<6])) else { return false }
        return n.count == 9 || value(n[0..<9]) % 11 % 10 == last(n)
    }

    // MARK: - Arithmetic

    private static func ascii(_ character: Character) -> UInt8 { character.asciiValue! }
    private static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
    private static func digits<C: Collection<UInt8>>(_ bytes: C) -> Bool { !bytes.isEmpty && bytes.allSatisfy(isDigit) }
    private static func digit(_ byte: UInt8) -> Int { Int(byte) - 0x30 }
    private static func last(_ n: Body) -> Int { digit(n[n.count - 1]) }
    /// Python's modulo: never negative.
    private static func mod(_ a: Int, _ n: Int) -> Int { ((a % n) + n) % n }

    /// The decimal value of digits (at most 18 of them).
    private static func value<C: Collection<UInt8>>(_ bytes: C) -> Int { bytes.reduce(0) { $0 * 10 + digit($1) } }

    private static func weighted<C: Collection<UInt8>>(_ bytes: C, _ weights: [Int]) -> Int {
        zip(weights, bytes).reduce(0) { $0 + $1.0 * digit($1.1) }
    }

    private static func luhnChecksum<C: Collection<UInt8>>(_ bytes: C) -> Int {
        bytes.reversed().enumerated().reduce(0) { sum, entry in
            let value = digit(entry.element)
            return sum + (entry.offset % 2 == 0 ? value : (value * 2) / 10 + (value * 2) % 10)
        } % 10
    }

    private static func luhnCheckDigit<C: Collection<UInt8>>(_ bytes: C) -> Int {
        let checksum = luhnChecksum(Array(bytes) + [0x30])
        return checksum == 0 ? 0 : 10 - checksum
    }

    /// ISO 7064 mod 11, 10: valid when the running check ends at 1.
    private static func mod11_10(_ n: Body) -> Bool {
        n.reduce(5) { check, byte in (((check == 0 ? 10 : check) * 2) % 11 + digit(byte)) % 10 } == 1
    }

    private static func validDate(year: Int, month: Int, day: Int) -> Bool {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }
}
