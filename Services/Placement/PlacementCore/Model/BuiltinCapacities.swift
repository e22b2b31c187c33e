// Generated from the Helix artifact's measured vLLM capacities (profiles/node_throughput_tables.json):
// KV capacity (token x layer entries) and prompt request limit per layer count. These are
// measurements of one GPU type running one model, independent of the cluster around it.

extension GPUCapacityTable {
    /// Built-in capacities keyed by model profile name, then GPU type name.
    static let builtin: [String: [String: GPUCapacityTable]] = [
        "llama2_70b": [
            "A100": GPUCapacityTable(maxLayers: 12,
                kvCapacity: [7973216, 7555424, 7137600, 6719808, 6302000, 5884224, 5466384, 5048576, 4630752, 4212960, 3795264, 3377472],
                promptMaxRequests: [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]),
            "L4": GPUCapacityTable(maxLayers: 7,
                kvCapacity: [4258336, 3872544, 3422208, 3004416, 2586640, 2168832, 1751008],
                promptMaxRequests: [1, 1, 1, 1, 1, 1, 1]),
            "T4": GPUCapacityTable(maxLayers: 4,
                kvCapacity: [2485120, 2031488, 1577856, 1124224],
                promptMaxRequests: [1, 1, 1, 1]),
            "V100": GPUCapacityTable(maxLayers: 4,
                kvCapacity: [2756096, 2302464, 1848816, 1395200],
                promptMaxRequests: [1, 1, 1, 1]),
            "L4x2": GPUCapacityTable(maxLayers: 14,
                kvCapacity: [9258080, 8815712, 8397888, 7980096, 7562320, 7144512, 6726720, 6308864, 5891040, 5473280, 5055424, 4637760, 4219904, 3802176],
                promptMaxRequests: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
            "T4x2": GPUCapacityTable(maxLayers: 9,
                kvCapacity: [5870368, 5397280, 4948752, 4500224, 4051680, 3603168, 3154704, 2706176, 2257632],
                promptMaxRequests: [1, 1, 1, 1, 1, 1, 1, 1, 1]),
            "T4x4": GPUCapacityTable(maxLayers: 18,
                kvCapacity: [12209664, 11722240, 11283936, 10845696, 10407360, 9969120, 9530864, 9092608, 8654256, 8216000, 7777792, 7339392, 6901232, 6462848, 6024480, 5586432, 5148144, 4709664],
                promptMaxRequests: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
        ],
        "llama1_30b": [
            "A100": GPUCapacityTable(maxLayers: 18,
                kvCapacity: [1289808, 1249472, 1209120, 1168832, 1128480, 1088160, 1047760, 1007488, 967104, 926720, 886512, 846144, 805792, 765408, 725040, 684800, 644368, 603936],
                promptMaxRequests: [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]),
            "L4": GPUCapacityTable(maxLayers: 11,
                kvCapacity: [659056, 618720, 578400, 538048, 497680, 457344, 417088, 376704, 336384, 296000, 255728],
                promptMaxRequests: [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]),
            "T4": GPUCapacityTable(maxLayers: 7,
                kvCapacity: [429584, 389248, 348912, 308544, 268240, 227904, 187600],
                promptMaxRequests: [1, 1, 1, 1, 1, 1, 1]),
            "V100": GPUCapacityTable(maxLayers: 7,
                kvCapacity: [471264, 430944, 390576, 350272, 309920, 269568, 229264],
                promptMaxRequests: [1, 1, 1, 1, 1, 1, 1]),
            "L4x2": GPUCapacityTable(maxLayers: 22,
                kvCapacity: [1459904, 1413280, 1372800, 1332288, 1291760, 1251264, 1210832, 1170304, 1129680, 1089120, 1048608, 1008192, 967616, 927136, 886560, 846080, 805664, 765216, 724736, 684160, 643776, 603328],
                promptMaxRequests: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]),
            "T4x2": GPUCapacityTable(maxLayers: 15,
                kvCapacity: [900288, 851776, 811248, 770752, 730240, 689760, 649264, 608768, 568224, 527840, 487344, 446784, 406224, 365792, 325440],
                promptMaxRequests: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
            "T4x4": GPUCapacityTable(maxLayers: 30,
                kvCapacity: [1973248, 1926272, 1885632, 1844992, 1804320, 1763712, 1723008, 1682432, 1641744, 1601120, 1560416, 1519680, 1479088, 1438528, 1397760, 1357056, 1316480, 1275840, 1235152, 1194560, 1153824, 1113376, 1072720, 1031808, 990800, 950144, 909792, 869120, 828240, 787680],
                promptMaxRequests: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
        ],
    ]
}
