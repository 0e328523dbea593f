package breaking

// Level is how serious a breaking change is.
type Level string

// The levels.
const (
	// Error: clients built against the old spec fail (a message refused, a
	// field they read missing, a value of a type they do not handle).
	Error Level = "error"
	// Warning: clients that check more than most (client-side validation,
	// exact bounds) may fail.
	Warning Level = "warning"
)

// Rule is one kind of breaking change.
type Rule struct {
	// ID is the rule's stable name, which output and x-accept-breaking use.
	ID    string
	Level Level
	// Side says whose code breaks: "publish" (clients that publish or call),
	// "deliver" (clients that subscribe or read replies), "both".
	Side string
	// Summary says what the rule finds.
	Summary string
	// Why says what happens to the deployed clients.
	Why string
}

// The rule IDs.
const (
	ChannelRemoved         = "CHANNEL_REMOVED"
	ParamRemoved           = "PARAM_REMOVED"
	ParamNarrowed          = "PARAM_NARROWED"
	ParamWidened           = "PARAM_WIDENED"
	HandshakeRequired      = "AUTH_HANDSHAKE_REQUIRED"
	PublishDenied          = "PUBLISH_DENIED"
	SubscribeDenied        = "SUBSCRIBE_DENIED"
	PublishFilterAdded     = "PUBLISH_FILTER_ADDED"
	PublishFieldRequired   = "PUBLISH_FIELD_REQUIRED"
	PublishPropertyDenied  = "PUBLISH_PROPERTY_DISALLOWED"
	PublishTypeNarrowed    = "PUBLISH_TYPE_NARROWED"
	PublishEnumNarrowed    = "PUBLISH_ENUM_NARROWED"
	PublishPatternNarrowed = "PUBLISH_PATTERN_NARROWED"
	PublishRangeNarrowed   = "PUBLISH_RANGE_NARROWED"
	PublishLengthNarrowed  = "PUBLISH_LENGTH_NARROWED"
	PublishSchemaChanged   = "PUBLISH_SCHEMA_CHANGED"
	DeliverFieldRemoved    = "DELIVER_FIELD_REMOVED"
	DeliverFieldOptional   = "DELIVER_FIELD_OPTIONAL"
	DeliverPropertyAdded   = "DELIVER_PROPERTY_ADDED"
	DeliverTypeWidened     = "DELIVER_TYPE_WIDENED"
	DeliverEnumWidened     = "DELIVER_ENUM_WIDENED"
	DeliverPatternWidened  = "DELIVER_PATTERN_WIDENED"
	DeliverRangeWidened    = "DELIVER_RANGE_WIDENED"
	DeliverLengthWidened   = "DELIVER_LENGTH_WIDENED"
	DeliverSchemaChanged   = "DELIVER_SCHEMA_CHANGED"
)

// Rules lists every rule, in the order docs/breaking.md documents them.
var Rules = []Rule{
	{ChannelRemoved, Error, "both", "a channel of the old spec is gone",
		"its publishers are refused (channel not declared) and its subscribers receive nothing"},
	{ParamRemoved, Error, "both", "a parameter segment of a channel is gone (/chat/{room} became /chat)",
		"clients name the channel with the old segments, which no channel owns any more"},
	{ParamNarrowed, Error, "both", "a parameter accepts fewer values (pattern added or changed, shorter maxLength, longer minLength, enum values removed)",
		"clients that name the channel with a value the parameter no longer accepts are refused"},
	{ParamWidened, Warning, "deliver", "a parameter accepts more values",
		"clients subscribed through a wildcard receive names their generated parser refuses"},
	{HandshakeRequired, Error, "both", "auth.handshake became required",
		"clients that handshake without credentials are refused"},
	{PublishDenied, Error, "publish", "the publish rule no longer allows someone it allowed (a role, authenticated, anyone, self)",
		"their publishes and remote calls are refused"},
	{SubscribeDenied, Error, "deliver", "the subscribe rule no longer allows someone it allowed",
		"their subscriptions are refused"},
	{PublishFilterAdded, Warning, "publish", "a filter that can refuse a message (max-length, regex-abort, custom) was added",
		"messages the deployed publishers send may be refused"},
	{PublishFieldRequired, Error, "publish", "a field of what clients publish became required (or a required field was added)",
		"publishers that leave it out are refused"},
	{PublishPropertyDenied, Error, "publish", "a field clients could publish is no longer accepted (removed from an object that allows no other properties, or additionalProperties became false)",
		"publishers that send such a field are refused"},
	{PublishTypeNarrowed, Error, "publish", "a value clients publish accepts fewer types (number became integer, a oneOf/anyOf alternative removed)",
		"publishers that send the dropped type are refused"},
	{PublishEnumNarrowed, Error, "publish", "a value clients publish accepts fewer values (an enum value removed, an enum or const added)",
		"publishers that send a dropped value are refused"},
	{PublishPatternNarrowed, Error, "publish", "a string clients publish gained or changed its pattern or format",
		"publishers whose strings do not match are refused"},
	{PublishRangeNarrowed, Error, "publish", "a number clients publish has a narrower range (minimum, maximum, exclusive bounds, multipleOf)",
		"publishers that send a number out of the new range are refused"},
	{PublishLengthNarrowed, Error, "publish", "a string, array or object clients publish has narrower bounds (minLength, maxLength, minItems, maxItems, minProperties, maxProperties, uniqueItems)",
		"publishers that send a value out of the new bounds are refused"},
	{PublishSchemaChanged, Warning, "publish", "a keyword this tool does not classify changed (not, if/then/else, allOf, dependentRequired, contains, ...) in what clients publish",
		"review it: it may refuse what publishers send"},
	{DeliverFieldRemoved, Error, "deliver", "a field the server delivered was removed (or renamed)",
		"subscribers that read it get nothing"},
	{DeliverFieldOptional, Error, "deliver", "a required field the server delivers became optional",
		"subscribers that read it may get nothing"},
	{DeliverPropertyAdded, Warning, "deliver", "an object the server delivers allowed no other properties and now has more (a field added, additionalProperties no longer false)",
		"subscribers that validate what they receive refuse it"},
	{DeliverTypeWidened, Error, "deliver", "a value the server delivers may have more types (integer became number, null allowed, an alternative added)",
		"subscribers receive values of a type they do not handle"},
	{DeliverEnumWidened, Error, "deliver", "a value the server delivers may have more values (an enum value added, an enum or const removed)",
		"subscribers receive a value they do not handle"},
	{DeliverPatternWidened, Warning, "deliver", "a string the server delivers lost or changed its pattern or format",
		"subscribers that rely on the old pattern may misread it"},
	{DeliverRangeWidened, Warning, "deliver", "a number the server delivers has a wider range",
		"subscribers that rely on the old range may misread it"},
	{DeliverLengthWidened, Warning, "deliver", "a string, array or object the server delivers has wider bounds",
		"subscribers that rely on the old bounds may misread it"},
	{DeliverSchemaChanged, Warning, "deliver", "a keyword this tool does not classify changed in what the server delivers",
		"review it: subscribers may receive what they do not expect"},
}

// RuleByID returns the rule with the ID, and whether there is one.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
