import TollgateBilling

/// Where a provider's page (Stripe's Checkout) sends an end user back: the portal, whichever
/// door started the sale (the portal itself, or an operator in the console who sent the link).
enum CheckoutPages {
    static func plan(_ publicBase: String) -> ReturnPages {
        ReturnPages(success: publicBase + "/portal?notice=subscribed", cancel: publicBase + "/portal/upgrade")
    }

    static func creditPack(_ publicBase: String) -> ReturnPages {
        ReturnPages(success: publicBase + "/portal?notice=credits_bought", cancel: publicBase + "/portal")
    }
}
