/// Messages printed in the seed documents, verbatim (trailing spaces
/// included), for the suites that parse them.
public enum SeedMessages {
    /// "Abstract Link Manager", ../shared/seeds/003: two links, AE-35 (udp) and AE-36 (ether).
    public static let alpExample = """
        (create   {  
                     (name AE-35)
                     (
                          proto udp 
                          (host (addr Discovery.Odyssey.Net) (port 9000))
                          (host (addr Earth.Odyssey.Net) (port 9000))
                     )
                     (status down)
                     (dir bi) 
                     (type point-to-point)
                     (type relative)
                     (access regular) 
                     (attribute Unreliable)
                  }
        )
        (create   {  
                     (name AE-36)
                     (
                          proto ether 
                          (host (addr Discovery.Odyssey.Net) (dev-name hme0))
                          (host (addr Earth.Odyssey.Net) (dev-name hme0))
                     )
                     (status down)
                     (dir bi) 
                     (type point-to-point)
                     (type raw)
                     (access regular) 
                     (attribute Unreliable)
                  }
        )
        """
}
