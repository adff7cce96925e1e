import Foundation
import TollgateCore

/// An invoice's document in its customer's language (English unless the customer's locale is
/// French): the labels, the legal mentions, country names, dates and amounts as that language
/// writes them — `2,100.00 EUR` in English, `2 100,00 €` in French.
public struct DocumentLanguage: Sendable, Equatable {
    public let code: String

    public init(locale: String?) {
        code = locale?.lowercased().hasPrefix("fr") == true ? "fr" : "en"
    }

    public static let english = DocumentLanguage(locale: "en")

    /// Between a label and its value: French sets a space before the colon.
    var colon: String { code == "fr" ? " : " : ": " }

    func t(_ key: String) -> String {
        (code == "fr" ? Self.frenchWords : Self.englishWords)[key] ?? Self.englishWords[key] ?? key
    }

    /// With `currency`: the amount as a reader expects it; without, the figure alone (a table's cell).
    public func money(_ amountMinor: Int64, _ currency: Currency, withCurrency: Bool = true) -> String {
        MoneyText.format(amountMinor, currency, language: code, withCurrency: withCurrency)
    }

    /// `2026-05-14` in English, `14/05/2026` in French.
    public func day(_ date: Date) -> String { DayStamp.written(DayStamp.string(of: date), language: code) }

    /// A country's name for an ISO 3166 code (the code itself when unknown).
    public func country(_ isoCode: String) -> String {
        Locale(identifier: code).localizedString(forRegionCode: isoCode) ?? isoCode
    }

    /// The mention the VAT treatment requires, in this language (Article 226 of Directive
    /// 2006/112/EC asks for it, not for a language: the customer's is the one they read).
    func mention(_ treatment: TaxTreatment?) -> String? {
        guard let treatment, let english = treatment.mention else { return nil }
        guard code == "fr" else { return english }
        switch treatment.kind {
        case .reverseCharge: return "Autoliquidation — article 196 de la directive 2006/112/CE du Conseil"
        case .export:
            return "TVA non applicable : lieu de la prestation hors de l’UE — articles 44 et 59 de la directive "
                + "2006/112/CE du Conseil"
        case .untaxed: return "TVA non calculée : aucun vendeur n’est configuré"
        default: return english
        }
    }

    static let englishWords: [String: String] = [
        "invoice": "INVOICE", "draft_invoice": "DRAFT INVOICE", "credit_note": "CREDIT NOTE", "paid": "PAID",
        "not_numbered": "not numbered", "date_of_issue": "Date of issue", "due_date": "Due date",
        "period_of_supply": "Period of supply", "corrects_invoice": "Corrects invoice", "of": "of",
        "reason": "Reason", "from": "From", "billed_to": "Billed to", "no_seller": "(no seller configured)",
        "no_billing_details": "(no billing details)", "vat_number": "VAT number", "description": "Description",
        "qty": "Qty", "unit_price": "Unit price", "vat": "VAT", "amount": "Amount", "credited": "Credited",
        "line_of_invoice": "line %d of the invoice", "vat_rate": "VAT rate", "taxable_amount": "Taxable amount",
        "subtotal": "Subtotal (excl. VAT)", "total": "Total", "total_credited": "Total credited", "due": "due",
        "page_of": "Page %d of %d", "invoice_title": "Invoice", "credit_note_title": "Credit note",
    ]

    static let frenchWords: [String: String] = [
        "invoice": "FACTURE", "draft_invoice": "BROUILLON DE FACTURE", "credit_note": "AVOIR", "paid": "PAYÉE",
        "not_numbered": "non numérotée", "date_of_issue": "Date d’émission", "due_date": "Date d’échéance",
        "period_of_supply": "Période de prestation", "corrects_invoice": "Rectifie la facture", "of": "du",
        "reason": "Motif", "from": "Émetteur", "billed_to": "Facturé à", "no_seller": "(aucun vendeur configuré)",
        "no_billing_details": "(aucune coordonnée de facturation)", "vat_number": "N° de TVA",
        "description": "Désignation", "qty": "Qté", "unit_price": "Prix unitaire", "vat": "TVA",
        "amount": "Montant", "credited": "Avoir", "line_of_invoice": "ligne %d de la facture",
        "vat_rate": "Taux de TVA", "taxable_amount": "Base imposable", "subtotal": "Total HT",
        "total": "Total TTC", "total_credited": "Total de l’avoir", "due": "échéance le",
        "page_of": "Page %d sur %d", "invoice_title": "Facture", "credit_note_title": "Avoir",
    ]
}
