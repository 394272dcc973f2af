public enum BowmanVersion { public static let string = "0.1.0" }
